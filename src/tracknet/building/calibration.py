"""Search-radius calibration: the ``radius_scale`` that makes spheres hold a chosen share.

:func:`calibrate_radius_scale` measures the ``quantile`` of ``|true hit - centre| / radius``
over every t1 prediction on labelled tracks; used as the builder's ``radius_scale``, it
makes normalised distances mean the same for any model and for the baseline's windows.

See docs/selection-and-fits.md.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..data.dataset import pad_tracks
from ..data.tracks import TrackSet
from ..errors import ConfigError, DataError
from ..model.checkpoint import LoadedModel

__all__ = ["calibrate_radius_scale", "normalised_distances"]


@torch.no_grad()
def normalised_distances(
    loaded: LoadedModel, tracks: TrackSet, *, batch_size: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """``|true hit - centre| / radius`` of every t1 and every t2 prediction (two flat arrays)."""
    if tracks.n_tracks == 0:
        raise DataError("no tracks to calibrate the search radius on")
    model = loaded.model.eval()
    coords = np.ascontiguousarray(loaded.normalizer.to_model(tracks.coords), dtype=np.float32)
    order = np.argsort(tracks.lengths, kind="stable")
    t1: list[np.ndarray] = []
    t2: list[np.ndarray] = []
    for lo in range(0, len(order), batch_size):
        batch = pad_tracks(coords, tracks.offsets, order[lo : lo + batch_size])
        pred = model(batch.inputs, batch.lengths)
        for out, centre, radius, target, mask in (
            (t1, pred.t1_center, pred.t1_radius, batch.targets_t1, batch.mask_t1),
            (t2, pred.t2_center, pred.t2_radius, batch.targets_t2, batch.mask_t2),
        ):
            ratio = torch.linalg.vector_norm(centre - target, dim=-1) / radius
            out.append(ratio[mask].numpy().astype(np.float64))
    return np.concatenate(t1), np.concatenate(t2)


def calibrate_radius_scale(loaded: LoadedModel, tracks: TrackSet, quantile: float = 0.99) -> float:
    """The factor on the radii that makes t1 spheres hold ``quantile`` of the true next hits."""
    if (
        isinstance(quantile, bool)
        or not isinstance(quantile, (int, float))
        or not 0.0 < quantile <= 1.0
    ):
        raise ConfigError(f"calibration quantile must be in (0, 1], got {quantile!r}")
    t1, _ = normalised_distances(loaded, tracks)
    if len(t1) == 0:
        raise DataError("the calibration tracks have no step with a next hit (need >= 2 hits)")
    scale = float(np.quantile(t1, quantile))
    if not (math.isfinite(scale) and scale > 0):
        raise DataError(
            f"calibration gave a radius scale of {scale}; the model or tracks are degenerate"
        )
    return scale
