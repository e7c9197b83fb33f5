"""``train(cfg)``: one training run of StepAhead TrackNET from a composed configuration.

Sets up the run directory (logs, ``checkpoints/``, track view, ``results.json``), resumes
from ``training.resume_from`` (a checkpoint or a run's folder), and under DDP lets the
processes Lightning starts find the run through :data:`RUN_DIR_ENV` and
:data:`RUN_VERSION_ENV`.

See docs/model.md.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from ..data.normalize import Normalizer
from ..detectors import detector_named
from ..errors import CheckpointError, ConfigError
from ..interrupts import on_interrupt
from ..io.atomic import atomic_path, write_json_atomic
from ..model.checkpoint import checkpoint_hparams, load_checkpoint
from ..model.step_ahead import StepAheadTrackNet
from .config import to_container
from .datamodule import TrainingData
from .interruption import (
    CHECKPOINT_DIR,
    complete_checkpoint,
    interrupt_outcome,
    stopping_training,
)
from .module import StepAheadModule
from .region_calibration import RegionSettings, calibrate_regions
from .runs import (
    RUN_DIR_ENV,
    RUN_VERSION_ENV,
    _next_version,
    _run_log,
    make_trainer,
    resolve_run_dir,
)
from .settings import DataSettings, RegionCalibrationSettings, TrackNetSettings

__all__ = [
    "CHECKPOINT_DIR",
    "RUN_DIR_ENV",
    "RUN_VERSION_ENV",
    "TRACK_VIZ_FILE",
    "resolve_run_dir",
    "resume_checkpoint",
    "train",
]

TRACK_VIZ_FILE = "last_track_viz.html"

log = logging.getLogger("tracknet.training")


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _viz_writer(datamodule: TrainingData, path: Path, plotlyjs: str) -> Any:
    """A callable(module) that writes the track view of one validation track to ``path``."""
    from ..viz.track_viz import write_track_html

    def write(module: StepAheadModule) -> None:
        tracks = datamodule.val_tracks
        if tracks is None or tracks.n_tracks == 0 or datamodule.settings.dims != (0, 1, 2):
            return
        # The longest validation track (the first of them): the same track every epoch.
        index = int(np.argmax(tracks.lengths))
        lo, hi = int(tracks.offsets[index]), int(tracks.offsets[index + 1])
        x = torch.from_numpy(np.array(tracks.coords[lo:hi], dtype=np.float32))[None]
        model = module.calibrated_model()
        with torch.no_grad():
            pred = model(x)
        to_mm = module.normalizer
        n = hi - lo
        hits = to_mm.to_mm(x[0].double().numpy())
        write_track_html(
            path,
            hits,
            to_mm.to_mm(pred.t1_center[0, : n - 1].double().numpy()),
            to_mm.radius_to_mm(pred.t1_radius[0, : n - 1].double().numpy()),
            to_mm.to_mm(pred.t2_center[0, : max(n - 2, 0)].double().numpy()),
            to_mm.radius_to_mm(pred.t2_radius[0, : max(n - 2, 0)].double().numpy()),
            title=(
                f"epoch {module.current_epoch}: event {int(tracks.event_id[index])}, "
                f"particle {int(tracks.particle_id[index])}, pT {float(tracks.pt[index]):.2f} GeV"
            ),
            plotlyjs=plotlyjs,
        )

    return write


def resume_checkpoint(path: str | os.PathLike[str]) -> Path:
    """The checkpoint ``training.resume_from=path`` continues: ``path`` itself unless it is a
    folder; of a folder, the one :func:`complete_checkpoint` finds in it (a version folder,
    either layout, or its ``checkpoints/``), else the newest of the version folders under it
    (a run folder, its ``logs/`` or ``logs/<experiment>/``)."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        return folder  # load_checkpoint says what is wrong with a missing or unreadable file
    found = complete_checkpoint(folder)
    if found is None:
        versions = [
            v
            for pattern in ("version_*", "*/version_*", "logs/*/version_*")
            for v in folder.glob(pattern)
            if v.is_dir()
        ]
        candidates = [c for c in map(complete_checkpoint, versions) if c is not None]
        found = max(candidates, key=lambda p: p.stat().st_mtime, default=None)
    if found is None:
        raise CheckpointError(
            f"{folder}: no checkpoint (.ckpt) in this folder, its {CHECKPOINT_DIR}/ or the "
            "version folders under it"
        )
    return found


def _check_resume(path: str | None, model_config: dict[str, Any]) -> str | None:
    """The checkpoint to resume from, checked: readable, and of the model being trained."""
    if not path:
        return None
    resume = resume_checkpoint(path)
    loaded = load_checkpoint(resume)  # a one-line CheckpointError for a missing or foreign file
    wanted = {
        k: tuple(v.shape)
        for k, v in StepAheadTrackNet.from_config(model_config).state_dict().items()
    }
    found = {k: tuple(v.shape) for k, v in loaded.model.state_dict().items()}
    if wanted != found:
        differ = sorted(k for k in set(wanted) | set(found) if wanted.get(k) != found.get(k))
        raise CheckpointError(
            f"{resume}: a checkpoint of another model (its {differ[0]} has shape "
            f"{found.get(differ[0])}, this run's {wanted.get(differ[0])}); resume with the "
            "model settings it was trained with"
        )
    return str(resume)


def _region_settings(section: RegionCalibrationSettings) -> RegionSettings | None:
    """The region-calibration settings of the fit, or None when it is off."""
    if not section.enabled:
        return None
    return RegionSettings(
        t1_efficiency=float(section.t1_efficiency),
        t2_efficiency=float(section.t2_efficiency),
        r_edges_mm=tuple(float(v) for v in section.r_edges_mm),
        z_edges_mm=tuple(float(v) for v in section.z_edges_mm),
        caps_mm=tuple(float(v) for v in section.caps_mm),
        max_tracks=int(section.max_tracks),
    )


def _calibrate_run_checkpoints(
    checkpoint_dir: Path,
    datamodule: TrainingData,
    settings: RegionSettings,
    section: RegionCalibrationSettings,
) -> dict[str, Any] | None:
    """Fit the region tables for every checkpoint of the run and write them into it."""
    if datamodule.val_tracks is None or datamodule.val_tracks.n_tracks == 0:
        log.warning("region calibration skipped: no validation tracks")
        return None
    started = time.perf_counter()
    points, n_events = datamodule.cost_points(
        section.cost_source, section.cost_events, section.cost_seed, dict(section.cost_simulation)
    )
    report: dict[str, Any] | None = None
    for path in sorted(checkpoint_dir.glob("*.ckpt"), key=lambda p: p.name != "last.ckpt"):
        raw = torch.load(path, map_location="cpu", weights_only=True)
        record = raw["hyper_parameters"]["tracknet"]
        base = dict(record["model"])
        base.update(
            t1_radius_scale=1.0, t2_radius_scale=1.0, t1_max_radius=math.inf, t2_max_radius=math.inf
        )
        base.pop("radius_regions", None)
        model = StepAheadTrackNet.from_config(base)
        prefix = "model."
        model.load_state_dict(
            {k[len(prefix) :]: v for k, v in raw["state_dict"].items() if k.startswith(prefix)}
        )
        table, fitted = calibrate_regions(
            model, datamodule.val_tracks, datamodule.normalizer, points, n_events, settings
        )
        record = dict(record)
        record["model"] = {**base, "radius_regions": table}
        meta = dict(record.get("meta") or {})
        meta["calibration"] = {**(meta.get("calibration") or {}), "region": fitted}
        record["meta"] = meta
        raw["hyper_parameters"] = {**raw["hyper_parameters"], "tracknet": record}
        with atomic_path(path) as tmp:
            torch.save(raw, tmp)
        if path.name == "last.ckpt" or report is None:
            report = fitted
        log.info(
            "region calibration of %s: t1 efficiency %.4f at %.2f cost hits per sphere, "
            "t2 %.4f at %.2f",
            path.name,
            fitted["t1"]["efficiency"],
            fitted["t1"]["cost_hits_per_sphere"],
            fitted["t2"]["efficiency"],
            fitted["t2"]["cost_hits_per_sphere"],
        )
    if report is not None:
        report = {**report, "seconds": round(time.perf_counter() - started, 2)}
    return report


def train(cfg: DictConfig) -> dict[str, Any]:
    """Train with the composed configuration ``cfg``; return the final figures and paths.

    Returns a dict with ``run_dir``, ``log_dir`` (``version_N/``), ``checkpoint_dir`` (its
    ``checkpoints/``), ``best_checkpoint``, ``last_checkpoint``,
    ``epochs`` (completed), ``train_seconds``, ``train_tracks_per_s`` and the last
    validation metrics (``val/loss``, ``val/t1_efficiency`` ...). Raises
    :class:`~tracknet.errors.ConfigError`, :class:`~tracknet.errors.DataError` or
    :class:`~tracknet.errors.CheckpointError` (one line) for bad input. Checkpoints are
    written whole or not at all; an interrupt raises
    :class:`~tracknet.interrupts.Interrupted` naming the last complete checkpoint, and
    ``results.json`` is only written by a run that finished.
    """
    config = to_container(cfg)
    data_settings = DataSettings.from_config(config["data"])  # TrackML events need data.dir
    settings = TrackNetSettings.from_config(config)
    if settings.model.kind == "seed_lstm":
        from .seed_lstm import train_seed_lstm

        return train_seed_lstm(config, settings, data_settings)
    training_settings = settings.training
    model_config = settings.model.step_ahead_config()
    trainer_config = dict(config["trainer"])
    region_settings = _region_settings(training_settings.region_calibration)
    try:
        StepAheadTrackNet.from_config(model_config)
    except ConfigError as exc:
        raise ConfigError(f"model: {exc}") from None
    resume = _check_resume(training_settings.resume_from, model_config)

    run_dir = resolve_run_dir(settings.run.output_dir)
    experiment = settings.experiment
    logs_root = run_dir / "logs"
    version = _next_version(logs_root / experiment)
    log_dir = logs_root / experiment / f"version_{version}"
    checkpoint_dir = log_dir / CHECKPOINT_DIR
    if settings.trainer.num_threads is not None:
        torch.set_num_threads(settings.trainer.num_threads)
    detector: Any = detector_named(data_settings.detector)  # its training stage methods

    with (
        on_interrupt(lambda: interrupt_outcome(log_dir)),
        _run_log(run_dir / "train.log", settings.run.log_level),
    ):
        log.info("run directory %s", run_dir)
        # The data preparation's bar, like the commands' bars, only on a terminal: a log
        # or a pipe then holds the results, or the one error line a bad input gives.
        datamodule = detector.data_module(
            data_settings, progress=settings.trainer.enable_progress_bar and sys.stderr.isatty()
        )
        # The tracks are prepared before the Trainer exists: bad data is refused with its
        # one line, before Lightning's start-up messages (fit then finds them ready).
        datamodule.prepare_data()
        datamodule.setup("fit")
        normalizer = Normalizer(data_settings.scale_mm)
        # Initial weights from a forked RNG seeded by `seed`: reproducible, global state untouched.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)
            model = StepAheadTrackNet.from_config(model_config)
        meta = {
            # A TrackML model of fewer coordinates is recorded as "2d".
            "detector": detector.name if len(data_settings.dims) == detector.dims else "2d",
            "experiment": experiment,
            "data": data_settings.describe(),
            "training": {"loss": training_settings.to_dict()["loss"]},
        }
        module = StepAheadModule(
            tracknet=checkpoint_hparams(model, normalizer, meta),
            training=training_settings.to_dict(),
            config=config,
        )
        module.model.load_state_dict(model.state_dict())
        module.run_dir = log_dir
        if training_settings.track_viz:
            module.viz = _viz_writer(
                datamodule, log_dir / TRACK_VIZ_FILE, training_settings.track_viz_plotlyjs
            )

        trainer, checkpoints = make_trainer(
            trainer_config, logs_root, experiment, version, run_dir, training_settings.save_top_k
        )
        started = time.perf_counter()
        env = {RUN_DIR_ENV: str(run_dir), RUN_VERSION_ENV: str(version)}
        with _environment(env), warnings.catch_warnings():
            # Expected here: a resumed run writes its checkpoints into its own, new directory.
            warnings.filterwarnings(
                "ignore", message=r"Checkpoint directory .* exists and is not empty"
            )
            warnings.filterwarnings("ignore", message=r"The dirpath has changed from")
            with stopping_training(trainer, log_dir):
                trainer.fit(module, datamodule=datamodule, ckpt_path=resume)
        seconds = time.perf_counter() - started

        region_report = None
        if region_settings is not None and trainer.is_global_zero:
            region_report = _calibrate_run_checkpoints(
                checkpoint_dir, datamodule, region_settings, training_settings.region_calibration
            )

        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        results: dict[str, Any] = {
            "run_dir": str(run_dir),
            "log_dir": str(log_dir),
            "experiment": experiment,
            "checkpoint_dir": str(checkpoint_dir),
            "best_checkpoint": checkpoints.best_model_path or None,
            "last_checkpoint": str(checkpoint_dir / "last.ckpt")
            if (checkpoint_dir / "last.ckpt").is_file()
            else None,
            "epochs": int(trainer.current_epoch),
            "resumed_from": resume,
            "train_seconds": round(seconds, 2),
            "train_tracks": datamodule.train_tracks.n_tracks if datamodule.train_tracks else 0,
            "val_tracks": datamodule.val_tracks.n_tracks if datamodule.val_tracks else 0,
        }
        results.update(metrics)
        if region_report is not None:
            for target in ("t1", "t2"):
                results[f"region/{target}_efficiency"] = region_report[target]["efficiency"]
                results[f"region/{target}_cost_hits_per_sphere"] = region_report[target][
                    "cost_hits_per_sphere"
                ]
            results["region_calibration_seconds"] = region_report["seconds"]
        if trainer.is_global_zero:
            write_json_atomic(log_dir / "results.json", results)
        log.info("finished: %s", json.dumps(results, sort_keys=True))
    return results
