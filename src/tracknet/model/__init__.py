"""StepAhead TrackNET as plain PyTorch: the network, its loss, its metrics, the density map.

Nothing here imports Lightning; the training module wraps these pieces, and the track
builder and the ONNX exporter use :class:`StepAheadTrackNet` directly.

See ``docs/model.md``.
"""

from __future__ import annotations

from .density import DensityMap, hits_in_sphere, sphere_volume
from .loss import LOSS_KINDS, quantile_sphere_loss, step_ahead_loss
from .metrics import METRIC_NAMES, StepAheadMetrics, step_ahead_metrics
from .step_ahead import Prediction, StepAheadTrackNet

__all__ = [
    "LOSS_KINDS",
    "METRIC_NAMES",
    "DensityMap",
    "Prediction",
    "StepAheadMetrics",
    "StepAheadTrackNet",
    "hits_in_sphere",
    "quantile_sphere_loss",
    "sphere_volume",
    "step_ahead_loss",
    "step_ahead_metrics",
]
