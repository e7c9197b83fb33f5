"""Training of the straw seed classifier (``model.kind: seed_lstm``): its sequences and module.

:func:`seed_sequence_splits` walks the seeds of the training and validation events with
the truth as chooser (only hits of labelled particles are ever a target, so the unlabelled
hits of semi-synthetic events are candidates that are certainly not the track);
:class:`SeedLstmModule` fits the per-layer choice by cross-entropy.

See docs/training-data.md (The seed classifier's sequences).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ..building.straw.alignment import aligned
from ..building.straw.hits import StrawHits
from ..building.straw.seed_walk import SLOT_FEATURES, STEP_FEATURES, SeedSequences, seed_sequences
from ..building.straw.settings import StrawBuildConfig
from ..data.cache import split_events
from ..detectors import detector_named
from ..errors import ConfigError, DataError
from ..interrupts import on_interrupt
from ..io.atomic import write_json_atomic
from ..model.seed_lstm import SeedLstm, seed_lstm_record
from .interruption import CHECKPOINT_DIR, interrupt_outcome, stopping_training
from .module import lr_schedule
from .runs import _next_version, _run_log, make_trainer, resolve_run_dir
from .settings import DataSettings, TrackNetSettings, TrainingSettings

__all__ = [
    "SeedLstmModule",
    "batch_hits",
    "seed_sequence_splits",
    "sequence_loader",
    "train_seed_lstm",
]

log = logging.getLogger("tracknet.training")

_IGNORE = -100


def batch_hits(batch: Any, geometry: Any) -> tuple[StrawHits, np.ndarray]:
    """The :class:`StrawHits` of a whole :class:`~tracknet.simulation.straw.StrawBatch` and
    the particle id of each hit row."""
    h = batch.hits
    row = np.searchsorted(batch.events["event_id"], h["event_id"])
    layer = h["volume_id"].astype(np.int64) * geometry.layers_per_module + h["layer_id"]
    hits = StrawHits.make(
        row,
        h["x"],
        h["y"],
        h["drift_mm"],
        layer,
        geometry.layer_x,
        geometry.layers_per_module,
        geometry.pitch_mm,
        geometry.straw_radius_mm,
    )
    return hits, h["particle_id"].astype(np.int64)


def seed_sequence_splits(
    directory: Path, settings: DataSettings, n_candidates: int, seed: int
) -> tuple[SeedSequences, SeedSequences, dict[str, Any]]:
    """Training and validation sequences of the straw dataset ``directory`` (split by
    event as the TrackNET data is) and the facts for the checkpoint."""
    from ..io.straw import StrawDataset
    from ..simulation.straw import StrawGeometry

    dataset = StrawDataset.open(directory)
    if not dataset.labelled:
        raise DataError(
            "production events without labels cannot train a model: overlay labelled "
            "tracks onto them (tracknet overlay --background)",
            file=str(directory),
        )
    geometry = StrawGeometry.from_dict(dataset.geometry_parameters())
    batch = aligned(dataset.read_all(), geometry, settings.straw.alignment)
    event_ids = [int(e) for e in batch.events["event_id"]]
    if settings.max_events is not None:
        event_ids = event_ids[: settings.max_events]
    if not event_ids:
        raise DataError("no straw events", file=str(directory))
    train_ids, val_ids = split_events(
        event_ids, settings.val_fraction, settings.min_val_events, settings.split_seed
    )
    config = StrawBuildConfig()
    rng = np.random.default_rng([seed, settings.split_seed])
    out = []
    for ids in (train_ids, val_ids):
        part = batch.take(np.flatnonzero(np.isin(batch.events["event_id"], ids)))
        hits, particle = batch_hits(part, geometry)
        out.append(
            seed_sequences(
                hits,
                particle,
                config,
                n_candidates,
                max_seeds=settings.straw.max_seeds,
                rng=rng,
            )
        )
    train, val = out
    if int(np.sum(train.labels[train.true_seed] >= 0)) == 0 or not train.true_seed.any():
        raise DataError(
            f"no seed of a labelled track in {len(train_ids)} training event(s)",
            file=str(directory),
        )
    facts = {
        "events_dir": str(directory),
        "alignment": settings.straw.alignment,
        "train_events": len(train_ids),
        "val_events": len(val_ids),
        "train_seeds": len(train),
        "val_seeds": len(val),
        "true_seed_fraction": round(float(train.true_seed.mean()), 4),
        "geometry": geometry.to_dict(),
    }
    return train, val, facts


def sequence_loader(
    sequences: SeedSequences, batch_size: int, shuffle: bool, seed: int
) -> DataLoader[tuple[torch.Tensor, ...]]:
    dataset = TensorDataset(
        torch.from_numpy(sequences.features), torch.from_numpy(sequences.labels)
    )
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


class SeedLstmModule(L.LightningModule):
    """Cross-entropy training of :class:`~tracknet.model.seed_lstm.SeedLstm`; the
    hyperparameter ``tracknet`` is its checkpoint record."""

    def __init__(self, tracknet: dict[str, Any], training: dict[str, Any]) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = SeedLstm.from_config(tracknet["model"])
        self.settings = TrainingSettings.from_config(training)
        if (self.model.slot_features, self.model.step_features) != (SLOT_FEATURES, STEP_FEATURES):
            raise ValueError("seed classifier features differ from the walk's")

    def _loss(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        features, labels = batch
        logits = self.model(features)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=_IGNORE
        )
        with torch.no_grad():
            valid = labels != _IGNORE
            pick = logits.argmax(dim=-1)
            hit = valid & (labels < self.model.n_candidates)
            n_valid = valid.sum().clamp(min=1)
            self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=int(n_valid))
            self.log(
                f"{stage}/accuracy",
                ((pick == labels) & valid).sum() / n_valid,
                batch_size=int(n_valid),
            )
            if stage == "val":
                n_hit = hit.sum().clamp(min=1)
                # Of the layers where the track has a candidate: the right one taken.
                self.log("val/hit_recall", ((pick == labels) & hit).sum() / n_hit)
                wrong = valid & (pick < self.model.n_candidates) & (pick != labels)
                taken = (valid & (pick < self.model.n_candidates)).sum().clamp(min=1)
                self.log("val/wrong_pick_rate", wrong.sum() / taken)
        return loss

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> torch.Tensor:
        return self._loss(batch, "train")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> None:
        self._loss(batch, "val")

    def configure_optimizers(self) -> Any:
        s = self.settings
        cls = torch.optim.AdamW if s.optimizer == "adamw" else torch.optim.Adam
        optimizer = cls(self.model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
        if s.scheduler == "constant":
            return optimizer
        return lr_schedule(self, optimizer, s)


def train_seed_lstm(
    config: dict[str, Any], settings: TrackNetSettings, data_settings: DataSettings
) -> dict[str, Any]:
    """:func:`train` of the straw seed classifier (``model.kind: seed_lstm``)."""
    if data_settings.source != "straw":
        raise ConfigError(
            "model.kind seed_lstm trains on straw events (data=straw), "
            f"not {data_settings.source!r}"
        )
    if settings.training.resume_from:
        raise ConfigError("training.resume_from: the seed classifier trains from the start")
    run_dir = resolve_run_dir(settings.run.output_dir)
    experiment = settings.experiment
    logs_root = run_dir / "logs"
    version = _next_version(logs_root / experiment)
    log_dir = logs_root / experiment / f"version_{version}"
    if settings.trainer.num_threads is not None:
        torch.set_num_threads(settings.trainer.num_threads)
    detector: Any = detector_named(data_settings.detector)
    with (
        on_interrupt(lambda: interrupt_outcome(log_dir)),
        _run_log(run_dir / "train.log", settings.run.log_level),
    ):
        log.info("run directory %s", run_dir)
        datamodule = detector.data_module(
            data_settings, progress=settings.trainer.enable_progress_bar and sys.stderr.isatty()
        )
        directory = datamodule.events_directory()
        prepared = time.perf_counter()
        train_seq, val_seq, facts = seed_sequence_splits(
            directory, data_settings, settings.model.candidates, settings.seed
        )
        log.info(
            "seed classifier data: %d training seeds, %d validation seeds, in %.1f s",
            len(train_seq),
            len(val_seq),
            time.perf_counter() - prepared,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)
            model = SeedLstm(
                settings.model.candidates,
                SLOT_FEATURES,
                STEP_FEATURES,
                settings.model.hidden_size,
                settings.model.num_layers,
            )
        if not data_settings.dir:
            facts["straw"] = {
                "n_events": data_settings.straw.n_events,
                "seed": data_settings.straw.seed,
                "config": data_settings.straw.config,
            }
        meta = {"detector": "straw", "experiment": experiment, "data": facts}
        module = SeedLstmModule(
            tracknet=seed_lstm_record(model, meta), training=settings.training.to_dict()
        )
        module.model.load_state_dict(model.state_dict())
        trainer, checkpoints = make_trainer(
            dict(config["trainer"]),
            logs_root,
            experiment,
            version,
            run_dir,
            settings.training.save_top_k,
        )
        started = time.perf_counter()
        with stopping_training(trainer, log_dir):
            trainer.fit(
                module,
                train_dataloaders=sequence_loader(
                    train_seq, data_settings.batch_size, True, data_settings.split_seed
                ),
                val_dataloaders=sequence_loader(
                    val_seq, data_settings.val_batch_size, False, data_settings.split_seed
                ),
            )
        seconds = time.perf_counter() - started
        checkpoint_dir = log_dir / CHECKPOINT_DIR
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        results: dict[str, Any] = {
            "run_dir": str(run_dir),
            "log_dir": str(log_dir),
            "experiment": experiment,
            "model_kind": "seed_lstm",
            "checkpoint_dir": str(checkpoint_dir),
            "best_checkpoint": checkpoints.best_model_path or None,
            "last_checkpoint": str(checkpoint_dir / "last.ckpt")
            if (checkpoint_dir / "last.ckpt").is_file()
            else None,
            "epochs": int(trainer.current_epoch),
            "train_seconds": round(seconds, 2),
            "train_seeds": len(train_seq),
            "val_seeds": len(val_seq),
        }
        results.update(metrics)
        write_json_atomic(log_dir / "results.json", results)
        log.info("finished: %s", json.dumps(results, sort_keys=True))
    return results
