"""The LightningModule that trains :class:`~tracknet.model.StepAheadTrackNet`.

Hyperparameters are primitives only, so its checkpoints open with
``torch.load(weights_only=True)`` and :func:`tracknet.model.checkpoint.load_checkpoint`.
The model trains on raw radii; after every validation pass the radius calibration is
measured and written into every later checkpoint's model settings and meta.

See docs/model.md.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from ..data.dataset import TrackBatch
from ..data.normalize import Normalizer
from ..model.checkpoint import checkpoint_hparams
from ..model.density import DensityMap
from ..model.loss import quantile_sphere_loss, step_ahead_loss
from ..model.step_ahead import Prediction, StepAheadTrackNet
from .calibration import Calibration, SphereStats
from .settings import TrainingSettings

__all__ = ["StepAheadModule", "lr_schedule"]

#: Smallest learning-rate multiplier at the end of the onecycle / cosine schedules.
FINAL_LR_FRACTION = 1e-3


class StepAheadModule(L.LightningModule):
    """Training, validation, calibration and checkpoint record of StepAhead TrackNET.

    ``run_dir`` (not a hyperparameter) is where ``seen_tracks/`` goes when
    ``training.record_seen_tracks`` is on; ``viz`` is called with the module after each
    validation epoch (outside the sanity check) to write the track view.
    """

    def __init__(
        self,
        tracknet: dict[str, Any],
        training: dict[str, Any],
        config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        model_config = dict(tracknet["model"])
        # Training always runs on raw radii; calibration goes to the checkpoint record.
        model_config["t1_radius_scale"] = 1.0
        model_config["t2_radius_scale"] = 1.0
        self.model = StepAheadTrackNet.from_config(model_config)
        self.normalizer = Normalizer.from_config(tracknet["normalizer"])
        self.meta: dict[str, Any] = dict(tracknet.get("meta") or {})
        self.settings = TrainingSettings.from_config(training)
        self.density = (
            DensityMap.load(self.settings.density_map) if self.settings.density_map else None
        )
        self.stats = SphereStats(
            self.normalizer, self.density, max_radius_mm=self.settings.calibration.caps_mm()
        )
        self.calibration: Calibration | None = None
        self.val_metrics: dict[str, float] = {}
        self._val_loss_sums = torch.zeros(4, dtype=torch.float64)
        self._epoch_tracks = 0
        self._epoch_start = 0.0
        self._seen: list[np.ndarray] = []
        self.run_dir: Path | None = None
        self.viz: Any = None

    # ------------------------------------------------------------------ forward / loss
    def forward(self, x: torch.Tensor) -> Prediction:
        return self.model(x)

    def _loss(
        self, pred: Prediction, batch: TrackBatch
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss = self.settings.loss
        if loss.kind == "quantile":
            # 1 mm in the model frame is the loss unit.
            unit = float(self.normalizer.radius_to_model(1.0))
            return quantile_sphere_loss(
                pred,
                batch.targets_t1,
                batch.targets_t2,
                batch.mask_t1,
                batch.mask_t2,
                q_t1=loss.q_t1,
                q_t2=loss.q_t2,
                t2_weight=loss.t2_weight,
                unit=unit,
            )
        return step_ahead_loss(
            pred,
            batch.targets_t1,
            batch.targets_t2,
            batch.mask_t1,
            batch.mask_t2,
            alpha=loss.alpha,
            t2_weight=loss.t2_weight,
        )

    # ------------------------------------------------------------------ training
    def on_fit_start(self) -> None:
        # Record the data actually used (event and track counts, the simulation settings).
        datamodule = getattr(self.trainer, "datamodule", None)
        describe = getattr(datamodule, "describe", None)
        if callable(describe):
            self.meta["data"] = {**(self.meta.get("data") or {}), **describe()}

    def on_train_epoch_start(self) -> None:
        self._epoch_tracks = 0
        self._epoch_start = time.perf_counter()
        self._seen = []

    def training_step(self, batch: TrackBatch, batch_idx: int) -> torch.Tensor:
        pred = self.model(batch.inputs)
        total, parts = self._loss(pred, batch)
        n = int(batch.lengths.shape[0])
        self._epoch_tracks += n
        if self.settings.record_seen_tracks:
            self._seen.append(batch.track_index.detach().cpu().numpy().copy())
        for name, value in parts.items():
            self.log(f"train/{name}", value, batch_size=n, prog_bar=name == "loss")
        return total

    def on_train_epoch_end(self) -> None:
        elapsed = time.perf_counter() - self._epoch_start
        if elapsed > 0 and self._epoch_tracks:
            self.log("train/tracks_per_s", self._epoch_tracks / elapsed, sync_dist=False)
        if self.settings.record_seen_tracks and self.run_dir is not None:
            out = Path(self.run_dir) / "seen_tracks"
            out.mkdir(parents=True, exist_ok=True)
            seen = np.concatenate(self._seen) if self._seen else np.zeros(0, dtype=np.int64)
            np.save(out / f"epoch{self.current_epoch:03d}-rank{self.global_rank}.npy", seen)

    # ------------------------------------------------------------------ validation
    def on_validation_epoch_start(self) -> None:
        self.stats.reset()
        self._val_loss_sums.zero_()

    def validation_step(self, batch: TrackBatch, batch_idx: int) -> None:
        pred = self.model(batch.inputs)
        _, parts = self._loss(pred, batch)
        n1 = float(batch.mask_t1.sum())
        n2 = float(batch.mask_t2.sum())
        self._val_loss_sums += torch.tensor(
            [float(parts["loss_t1"]) * n1, n1, float(parts["loss_t2"]) * n2, n2],
            dtype=torch.float64,
        )
        self.stats.update(pred, batch.targets_t1, batch.targets_t2, batch.mask_t1, batch.mask_t2)

    def _reduce(self, values: torch.Tensor) -> torch.Tensor:
        """Sum a float64 CPU tensor over the distributed ranks (identity on one process)."""
        if self.trainer.world_size == 1:
            return values
        reduced = self.trainer.strategy.reduce(values.to(self.device), reduce_op="sum")
        assert isinstance(reduced, torch.Tensor)
        return reduced.detach().to("cpu", torch.float64)

    def on_validation_epoch_end(self) -> None:
        sums = self._reduce(self._val_loss_sums.clone())
        self.stats.load_tensors(self._reduce(self.stats.tensors()))
        loss_t1 = float(sums[0] / sums[1]) if sums[1] > 0 else float("nan")
        loss_t2 = float(sums[2] / sums[3]) if sums[3] > 0 else 0.0
        loss = loss_t1 + self.settings.loss.t2_weight * loss_t2
        calibration = None
        if self.settings.calibration.enabled:
            calibration = self.stats.calibrate(
                self.settings.calibration.t1_efficiency, self.settings.calibration.t2_efficiency
            )
        metrics = {"loss": loss, "loss_t1": loss_t1, "loss_t2": loss_t2}
        metrics.update(self.stats.metrics(calibration))
        if not self.trainer.sanity_checking:
            self.calibration = calibration
            self.val_metrics = {f"val/{k}": float(v) for k, v in metrics.items()}
        for name, value in metrics.items():
            # Identical on every rank already (reduced above): no further sync.
            self.log(f"val/{name}", float(value), prog_bar=name in ("loss", "t1_efficiency"))
        if self.viz is not None and not self.trainer.sanity_checking and self.global_rank == 0:
            self.viz(self)

    # ------------------------------------------------------------------ checkpoints
    def calibrated_model_config(self) -> dict[str, Any]:
        """Model settings with the current calibration's radius scales."""
        config = self.model.config()
        if self.calibration is not None:
            config["t1_radius_scale"] = float(self.calibration.t1_scale)
            config["t2_radius_scale"] = float(self.calibration.t2_scale)
            for target in ("t1", "t2"):
                cap_mm = self.calibration.cap(target)
                config[f"{target}_max_radius"] = (
                    float(self.normalizer.radius_to_model(cap_mm))
                    if math.isfinite(cap_mm)
                    else math.inf
                )
        return config

    def calibrated_model(self) -> StepAheadTrackNet:
        """A copy of the model (eval mode, CPU) with the calibrated radius scales."""
        model = StepAheadTrackNet.from_config(self.calibrated_model_config())
        model.load_state_dict({k: v.detach().cpu() for k, v in self.model.state_dict().items()})
        return model.eval()

    def tracknet_record(self) -> dict[str, Any]:
        """The checkpoint record (:func:`checkpoint_hparams`) with calibration and progress."""
        meta = dict(self.meta)
        meta["epochs_trained"] = int(self.current_epoch) + 1 if self._trainer is not None else 0
        if self.calibration is not None:
            meta["calibration"] = {
                "t1_radius_scale": float(self.calibration.t1_scale),
                "t2_radius_scale": float(self.calibration.t2_scale),
                "t1_efficiency_target": float(self.settings.calibration.t1_efficiency),
                "t2_efficiency_target": float(self.settings.calibration.t2_efficiency),
                "t1_efficiency": float(self.calibration.t1_efficiency),
                "t2_efficiency": float(self.calibration.t2_efficiency),
                "t1_max_radius_mm": self.settings.calibration.t1_max_radius_mm,
                "t2_max_radius_mm": self.settings.calibration.t2_max_radius_mm,
                "measured_on": "validation tracks of the training data",
            }
        meta["val_metrics"] = {
            k: (float(v) if math.isfinite(float(v)) else None) for k, v in self.val_metrics.items()
        }
        model = StepAheadTrackNet.from_config(self.calibrated_model_config())
        return checkpoint_hparams(model, self.normalizer, meta)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        hparams = dict(checkpoint.get("hyper_parameters") or {})
        hparams["tracknet"] = self.tracknet_record()
        checkpoint["hyper_parameters"] = hparams

    # ------------------------------------------------------------------ optimisation
    def configure_optimizers(self) -> Any:
        s = self.settings
        cls = torch.optim.AdamW if s.optimizer == "adamw" else torch.optim.Adam
        optimizer = cls(self.model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
        if s.scheduler == "constant":
            return optimizer
        return lr_schedule(self, optimizer, s)


def lr_schedule(module: L.LightningModule, optimizer: Any, s: TrainingSettings) -> Any:
    """The optimizer and the per-step schedule of ``training.scheduler`` (not constant)."""

    def factor(step: int) -> float:
        # Read the total at call time: a resumed run with more epochs stretches the decay.
        total = max(int(module.trainer.estimated_stepping_batches), 1)
        warmup = int(s.warmup_fraction * total) if s.scheduler == "onecycle" else 0
        if step < warmup:
            return 0.04 + 0.96 * step / max(warmup, 1)
        progress = min((step - warmup) / max(total - warmup, 1), 1.0)
        return FINAL_LR_FRACTION + (1.0 - FINAL_LR_FRACTION) * 0.5 * (
            1.0 + math.cos(math.pi * progress)
        )

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return {
        "optimizer": optimizer,
        "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
    }
