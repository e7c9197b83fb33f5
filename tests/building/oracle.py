"""An oracle StepAhead model for the building tests: it knows the truth of one event.

:class:`OracleModel` stands in for :class:`~tracknet.model.StepAheadTrackNet` behind the
real :class:`~tracknet.building.builder.TrackNetExtender` and ``build_tracks``: fed a hit,
it predicts the t1 and t2 spheres centred on the true next hit and the hit after next of
that hit's particle (hits ordered by transverse radius: barrel tracks), with fixed radii.
Fed a point that is no hit of its event, or the last hit of a particle, it predicts
spheres far outside the detector, so the candidate ends. Its state carries nothing: each
prediction depends only on the last point fed, which is exactly what the tests need to
follow (a hole is fed as the t1 centre, i.e. the true position of the missing hit).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree

from tracknet.data import Normalizer
from tracknet.events import Event
from tracknet.model import Prediction
from tracknet.model.checkpoint import LoadedModel

__all__ = ["OracleModel", "oracle_model"]

#: Where the oracle puts a sphere it has no hit for: far outside any envelope.
FAR_MM = 1.0e6
#: A point is a hit of the oracle's event if it lies this close to one (float32 round trip).
MATCH_MM = 0.05


class OracleModel(torch.nn.Module):
    """Spheres centred on the true next two hits of ``event`` (radii ``t1_radius_mm``,
    ``t2_radius_mm``), in the model frame of ``normalizer``."""

    input_dim = 3
    num_layers = 1

    def __init__(
        self,
        event: Event,
        normalizer: Normalizer,
        t1_radius_mm: float = 2.0,
        t2_radius_mm: float = 3.0,
    ) -> None:
        super().__init__()
        hits = event.hits
        self.positions = hits[["x", "y", "z"]].to_numpy(dtype=np.float64)
        pid = event.particle_ids()
        radius = np.hypot(self.positions[:, 0], self.positions[:, 1])
        order = np.lexsort((radius, pid))
        nxt = np.full(len(pid), -1, dtype=np.int64)
        same = (pid[order][1:] == pid[order][:-1]) & (pid[order][1:] > 0)
        nxt[order[:-1][same]] = order[1:][same]
        self.next = nxt
        self.tree = cKDTree(self.positions)
        self.normalizer = normalizer
        self.radii = (float(t1_radius_mm), float(t2_radius_mm))
        self._device_anchor = torch.nn.Parameter(torch.zeros(1), requires_grad=False)

    def _after(self, rows: np.ndarray) -> np.ndarray:
        return np.where(rows >= 0, self.next[np.maximum(rows, 0)], -1)

    def _centres(self, rows: np.ndarray) -> torch.Tensor:
        mm = np.where(rows[:, None] >= 0, self.positions[np.maximum(rows, 0)], FAR_MM)
        return torch.as_tensor(self.normalizer.to_model(mm), dtype=torch.float32)

    def initial_hidden(
        self, batch_size: int, device: torch.device | str | None = None
    ) -> torch.Tensor:
        return torch.zeros(1, batch_size, 1, device=device)

    @torch.no_grad()
    def step(
        self, x_t: torch.Tensor, hidden: torch.Tensor | None = None
    ) -> tuple[Prediction, torch.Tensor]:
        mm = self.normalizer.to_mm(x_t.double().numpy())
        distance, row = self.tree.query(mm)
        row = np.where(distance <= MATCH_MM, row, -1)
        t1 = self._after(row)
        t2 = self._after(t1)
        n = len(row)
        r1, r2 = (torch.full((n,), self.normalizer.radius_to_model(r)) for r in self.radii)
        prediction = Prediction(self._centres(t1), r1, self._centres(t2), r2)
        return prediction, torch.zeros(1, n, 1)


def oracle_model(event: Event, t1_radius_mm: float = 2.0, t2_radius_mm: float = 3.0) -> LoadedModel:
    """The oracle of ``event`` as a loaded model, ready for ``build_tracks(..., "tracknet")``."""
    normalizer = Normalizer()
    model = OracleModel(event, normalizer, t1_radius_mm, t2_radius_mm)
    return LoadedModel(model=model, normalizer=normalizer, meta={"radius_scale": 1.0})  # type: ignore[arg-type]
