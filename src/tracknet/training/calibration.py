"""Sphere statistics over a validation pass, and the radius calibration they give.

:class:`SphereStats` accumulates, for t1 and t2, exact sums and a histogram of
``log(distance / radius)`` as float64 tensors that distributed ranks add up;
:meth:`SphereStats.calibrate` picks the scale (and applies the cap) at which the
requested share of reachable true hits lies inside ``min(s r, c)``.

See docs/training-data.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..data.normalize import Normalizer
from ..model.density import DensityMap, sphere_volume
from ..model.metrics import (
    EFFICIENCY,
    EXPECTED_HITS,
    RADIUS_MM,
    SEARCH_VOLUME_MM3,
    TARGETS,
    metric_name,
)
from ..model.step_ahead import Prediction

__all__ = [
    "LOG_RATIO_BIN",
    "LOG_RATIO_MAX",
    "LOG_RATIO_MIN",
    "Calibration",
    "SphereStats",
]

#: Histogram range and bin width of ``log(distance / radius)``.
LOG_RATIO_MIN = -12.0
LOG_RATIO_MAX = 8.0
LOG_RATIO_BIN = 0.005
_N_BINS = round((LOG_RATIO_MAX - LOG_RATIO_MIN) / LOG_RATIO_BIN)
#: Histogram range of ``log(radius / mm)`` (same bin width).
LOG_RADIUS_MIN = -7.0
LOG_RADIUS_MAX = 12.0
_N_RADIUS_BINS = round((LOG_RADIUS_MAX - LOG_RADIUS_MIN) / LOG_RATIO_BIN)
_SUMS = ("count", "inside", "radius_mm", "volume_mm3", "expected_hits")


@dataclass(frozen=True)
class Calibration:
    """Radius scale factors and the efficiencies they give on the validation tracks."""

    t1_scale: float
    t2_scale: float
    t1_efficiency: float
    t2_efficiency: float
    t1_max_radius_mm: float = math.inf
    t2_max_radius_mm: float = math.inf

    def scale(self, target: str) -> float:
        return self.t1_scale if target == "t1" else self.t2_scale

    def cap(self, target: str) -> float:
        return self.t1_max_radius_mm if target == "t1" else self.t2_max_radius_mm


class SphereStats:
    """Accumulates sphere statistics of validation batches (see docs/training-data.md)."""

    def __init__(
        self,
        normalizer: Normalizer,
        density: DensityMap | None = None,
        max_radius_mm: tuple[float, float] = (math.inf, math.inf),
    ) -> None:
        self.normalizer = normalizer
        self.density = density
        self.max_radius_mm = tuple(float(c) for c in max_radius_mm)
        if len(self.max_radius_mm) != 2 or any(not c > 0 for c in self.max_radius_mm):
            raise ValueError(f"max_radius_mm must be two numbers > 0, got {max_radius_mm!r}")
        self.sums = torch.zeros(len(TARGETS), len(_SUMS), dtype=torch.float64)
        self.hist = torch.zeros(len(TARGETS), _N_BINS, dtype=torch.float64)
        # log-radius histograms: counts and density-weighted counts
        self.radius_hist = torch.zeros(len(TARGETS), 2, _N_RADIUS_BINS, dtype=torch.float64)

    def reset(self) -> None:
        self.sums.zero_()
        self.hist.zero_()
        self.radius_hist.zero_()

    @torch.no_grad()
    def update(
        self,
        pred: Prediction,
        targets_t1: torch.Tensor,
        targets_t2: torch.Tensor,
        mask_t1: torch.Tensor,
        mask_t2: torch.Tensor,
    ) -> None:
        """Add a batch of model-frame predictions and targets (padded, with masks)."""
        parts = (
            (pred.t1_center, pred.t1_radius, targets_t1, mask_t1),
            (pred.t2_center, pred.t2_radius, targets_t2, mask_t2),
        )
        for i, (center, radius, truth, mask) in enumerate(parts):
            mask = mask.to(torch.bool)
            c = self.normalizer.to_mm(center[mask].detach().to("cpu", torch.float64))
            y = self.normalizer.to_mm(truth[mask].detach().to("cpu", torch.float64))
            r = self.normalizer.radius_to_mm(radius[mask].detach().to("cpu", torch.float64))
            d = torch.linalg.vector_norm(c - y, dim=-1)
            volume = sphere_volume(r)
            rho = (
                self.density.density_at(c)
                if self.density is not None and c.shape[-1] == 3
                else torch.zeros_like(r)
            )
            expected = rho * volume
            self.sums[i] += torch.stack(
                [
                    torch.tensor(float(len(d)), dtype=torch.float64),
                    (d <= r).sum().to(torch.float64),
                    r.sum(),
                    volume.sum(),
                    expected.sum(),
                ]
            )
            reachable = d <= self.max_radius_mm[i]
            ratio = torch.log(torch.clamp(d[reachable] / r[reachable], min=math.exp(LOG_RATIO_MIN)))
            bins = (
                ((ratio - LOG_RATIO_MIN) / LOG_RATIO_BIN)
                .floor()
                .clamp(0, _N_BINS - 1)
                .to(torch.int64)
            )
            self.hist[i] += torch.bincount(bins, minlength=_N_BINS).to(torch.float64)
            log_r = torch.log(torch.clamp(r, min=math.exp(LOG_RADIUS_MIN)))
            rbins = (
                ((log_r - LOG_RADIUS_MIN) / LOG_RATIO_BIN)
                .floor()
                .clamp(0, _N_RADIUS_BINS - 1)
                .to(torch.int64)
            )
            self.radius_hist[i, 0] += torch.bincount(rbins, minlength=_N_RADIUS_BINS).to(
                torch.float64
            )
            self.radius_hist[i, 1] += torch.bincount(
                rbins, weights=rho, minlength=_N_RADIUS_BINS
            ).to(torch.float64)

    # ------------------------------------------------------------------ reduction
    def tensors(self) -> torch.Tensor:
        """All state as one float64 tensor (to be summed over ranks)."""
        return torch.cat(
            [self.sums.reshape(-1), self.hist.reshape(-1), self.radius_hist.reshape(-1)]
        )

    def load_tensors(self, flat: torch.Tensor) -> None:
        """Replace the state by ``flat`` (e.g. the sum of :meth:`tensors` over ranks)."""
        flat = flat.detach().to("cpu", torch.float64)
        n1 = self.sums.numel()
        n2 = n1 + self.hist.numel()
        self.sums = flat[:n1].reshape(self.sums.shape).clone()
        self.hist = flat[n1:n2].reshape(self.hist.shape).clone()
        self.radius_hist = flat[n2:].reshape(self.radius_hist.shape).clone()

    # ------------------------------------------------------------------ results
    def count(self, target: str) -> int:
        return int(self.sums[TARGETS.index(target), 0])

    def efficiency_at(self, target: str, scale: float) -> float:
        """Share of predictions inside ``min(scale r, cap)``.

        ``scale`` is rounded up to a bin edge.
        """
        i = TARGETS.index(target)
        total = float(self.sums[i, 0])
        if total == 0:
            return float("nan")
        edge = math.ceil((math.log(scale) - LOG_RATIO_MIN) / LOG_RATIO_BIN - 1e-9)
        edge = min(max(edge, 0), _N_BINS)
        return float(self.hist[i, :edge].sum()) / total

    def calibrate(self, t1_efficiency: float, t2_efficiency: float) -> Calibration | None:
        """The scale factors that reach the requested efficiencies (None without data)."""
        scales: list[float] = []
        effs: list[float] = []
        for i, want in enumerate((t1_efficiency, t2_efficiency)):
            total = float(self.sums[i, 0])
            reachable = float(self.hist[i].sum())
            if total == 0 or reachable == 0:
                return None
            cdf = torch.cumsum(self.hist[i], 0) / reachable
            # First bin whose upper edge reaches the target share of the reachable hits.
            index = int(torch.searchsorted(cdf, torch.tensor(want - 1e-12, dtype=torch.float64)))
            index = min(index, _N_BINS - 1)
            scale = math.exp(LOG_RATIO_MIN + (index + 1) * LOG_RATIO_BIN)
            scales.append(scale)
            effs.append(float(cdf[index]) * reachable / total)
        return Calibration(scales[0], scales[1], effs[0], effs[1], *self.max_radius_mm)

    def _calibrated_radius_moments(self, target: str, scale: float) -> tuple[float, float, float]:
        """Sums of ``min(s r, c)``, its cube, and density times its cube, from the histograms."""
        i = TARGETS.index(target)
        centres = torch.exp(
            LOG_RADIUS_MIN
            + (torch.arange(_N_RADIUS_BINS, dtype=torch.float64) + 0.5) * LOG_RATIO_BIN
        )
        radius = torch.clamp(scale * centres, max=self.max_radius_mm[i])
        counts, weighted = self.radius_hist[i, 0], self.radius_hist[i, 1]
        return (
            float((counts * radius).sum()),
            float((counts * radius**3).sum()),
            float((weighted * radius**3).sum()),
        )

    def metrics(self, calibration: Calibration | None = None, prefix: str = "") -> dict[str, float]:
        """Means per target (``t1_efficiency`` ...); calibrated ones when ``calibration`` is given.

        Without calibration: raw spheres (exact sums). With it: efficiency, radius, volume
        and expected hits of the scaled and capped spheres (from the histograms), plus
        ``*_efficiency_raw``, ``*_radius_scale`` and ``*_reachable`` (share of true hits
        within the cap).
        """
        out: dict[str, float] = {}
        for i, target in enumerate(TARGETS):
            count, inside, radius, volume, expected = (float(v) for v in self.sums[i])
            if count == 0:
                continue
            raw_eff = inside / count
            if calibration is None:
                eff = raw_eff
            else:
                s = calibration.scale(target)
                eff = self.efficiency_at(target, s)
                radius, cubes, weighted = self._calibrated_radius_moments(target, s)
                volume = (4.0 / 3.0) * math.pi * cubes
                expected = (4.0 / 3.0) * math.pi * weighted
            out[prefix + metric_name(target, EFFICIENCY)] = eff
            out[prefix + metric_name(target, RADIUS_MM)] = radius / count
            out[prefix + metric_name(target, SEARCH_VOLUME_MM3)] = volume / count
            if self.density is not None:
                out[prefix + metric_name(target, EXPECTED_HITS)] = expected / count
            if calibration is not None:
                out[prefix + metric_name(target, EFFICIENCY) + "_raw"] = raw_eff
                out[prefix + f"{target}_radius_scale"] = calibration.scale(target)
                out[prefix + f"{target}_reachable"] = float(self.hist[i].sum()) / count
        return out
