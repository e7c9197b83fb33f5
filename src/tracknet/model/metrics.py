"""Quality of the predicted search spheres, for t1 (next hit) and t2 (hit after next).

Efficiency, search volume (mm^3), expected hits (from a
:class:`~tracknet.model.density.DensityMap`) and radius (mm), in mm via the
:class:`~tracknet.data.normalize.Normalizer`. :class:`StepAheadMetrics` accumulates exact
sums over batches; :func:`step_ahead_metrics` is the one-batch shortcut; keys are
:data:`METRIC_NAMES`.

See ``docs/model.md`` (Sphere metrics).
"""

from __future__ import annotations

from typing import Final

import torch

from ..data.normalize import Normalizer
from .density import DensityMap, sphere_volume
from .step_ahead import Prediction

__all__ = [
    "EFFICIENCY",
    "EXPECTED_HITS",
    "METRIC_NAMES",
    "RADIUS_MM",
    "SEARCH_VOLUME_MM3",
    "TARGETS",
    "StepAheadMetrics",
    "metric_name",
    "step_ahead_metrics",
]

TARGETS: Final[tuple[str, ...]] = ("t1", "t2")
EFFICIENCY: Final = "efficiency"
SEARCH_VOLUME_MM3: Final = "search_volume_mm3"
EXPECTED_HITS: Final = "expected_hits"
RADIUS_MM: Final = "radius_mm"
_QUANTITIES: Final[tuple[str, ...]] = (EFFICIENCY, SEARCH_VOLUME_MM3, EXPECTED_HITS, RADIUS_MM)


def metric_name(target: str, quantity: str) -> str:
    """``"t1_efficiency"`` style key of one metric."""
    return f"{target}_{quantity}"


#: Every key that :meth:`StepAheadMetrics.compute` may return (``*_expected_hits`` only
#: with a density map).
METRIC_NAMES: Final[tuple[str, ...]] = tuple(
    metric_name(t, q) for t in TARGETS for q in _QUANTITIES
)


class StepAheadMetrics:
    """Accumulates sphere metrics over batches; ``compute()`` gives the means as floats.

    Sums are kept in float64 on the CPU, so the result over many batches equals the
    result over their concatenation. Without a ``density`` map, ``*_expected_hits`` is
    not reported.
    """

    def __init__(
        self, normalizer: Normalizer | None = None, density: DensityMap | None = None
    ) -> None:
        self.normalizer = normalizer if normalizer is not None else Normalizer()
        self.density = density
        self.reset()

    def reset(self) -> None:
        self._count = dict.fromkeys(TARGETS, 0)
        self._sums = {t: dict.fromkeys(_QUANTITIES, 0.0) for t in TARGETS}

    @torch.no_grad()
    def _update_one(
        self,
        target: str,
        center: torch.Tensor,
        radius: torch.Tensor,
        truth: torch.Tensor,
        mask: torch.Tensor,
    ) -> None:
        mask = mask.to(torch.bool)
        center_mm = self.normalizer.to_mm(center[mask].to(torch.float64))
        truth_mm = self.normalizer.to_mm(truth[mask].to(torch.float64))
        radius_mm = self.normalizer.radius_to_mm(radius[mask].to(torch.float64))
        distance = torch.linalg.vector_norm(center_mm - truth_mm, dim=-1)
        volume = sphere_volume(radius_mm)
        sums = self._sums[target]
        sums[EFFICIENCY] += float((distance <= radius_mm).sum())
        sums[SEARCH_VOLUME_MM3] += float(volume.sum())
        sums[RADIUS_MM] += float(radius_mm.sum())
        if self.density is not None:
            sums[EXPECTED_HITS] += float(
                self.density.density_at(center_mm.cpu()).mul(volume.cpu()).sum()
            )
        self._count[target] += int(mask.sum())

    def update(
        self,
        pred: Prediction,
        targets_t1: torch.Tensor,
        targets_t2: torch.Tensor,
        mask_t1: torch.Tensor,
        mask_t2: torch.Tensor,
    ) -> None:
        """Add a batch (model-frame predictions and targets, as from the data pipeline)."""
        if pred.t1_center.shape[-1] != 3 and self.density is not None:
            raise ValueError("expected hits need 3-d positions (a density map is 3-d)")
        self._update_one("t1", pred.t1_center, pred.t1_radius, targets_t1, mask_t1)
        self._update_one("t2", pred.t2_center, pred.t2_radius, targets_t2, mask_t2)

    def compute(self) -> dict[str, float]:
        """Means over all positions seen (NaN for a target without positions)."""
        out: dict[str, float] = {}
        for target in TARGETS:
            count = self._count[target]
            for quantity in _QUANTITIES:
                if quantity == EXPECTED_HITS and self.density is None:
                    continue
                out[metric_name(target, quantity)] = (
                    self._sums[target][quantity] / count if count else float("nan")
                )
        return out


def step_ahead_metrics(
    pred: Prediction,
    targets_t1: torch.Tensor,
    targets_t2: torch.Tensor,
    mask_t1: torch.Tensor,
    mask_t2: torch.Tensor,
    normalizer: Normalizer | None = None,
    density: DensityMap | None = None,
) -> dict[str, float]:
    """The metrics of one batch (see ``docs/model.md``)."""
    metrics = StepAheadMetrics(normalizer, density)
    metrics.update(pred, targets_t1, targets_t2, mask_t1, mask_t2)
    return metrics.compute()
