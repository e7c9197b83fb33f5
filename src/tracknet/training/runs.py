"""A training run's directory, log, version folder and Lightning Trainer (any model kind)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import ConfigError, TrackNetError
from .interruption import CHECKPOINT_DIR, AtomicCheckpointIO

__all__ = ["RUN_DIR_ENV", "RUN_VERSION_ENV", "make_trainer", "resolve_run_dir"]

RUN_DIR_ENV = "TRACKNET_RUN_DIR"
RUN_VERSION_ENV = "TRACKNET_RUN_VERSION"
_TRAINER_KEYS = (
    "accelerator",
    "devices",
    "num_nodes",
    "strategy",
    "max_epochs",
    "max_time",
    "precision",
    "gradient_clip_val",
    "log_every_n_steps",
    "check_val_every_n_epoch",
    "limit_train_batches",
    "limit_val_batches",
    "num_sanity_val_steps",
    "enable_progress_bar",
    "deterministic",
)


def _is_child_process() -> bool:
    """True in a process that Lightning started for another rank of this run."""
    return RUN_DIR_ENV in os.environ and os.environ.get("LOCAL_RANK", "0") != "0"


def resolve_run_dir(output_dir: str | None, now: dt.datetime | None = None) -> Path:
    """The run directory: ``output_dir``, or ``outputs/YYYY-MM-DD/HH-MM-SS`` under the cwd."""
    if _is_child_process():
        return Path(os.environ[RUN_DIR_ENV])
    if output_dir:
        return Path(output_dir).expanduser().resolve()
    now = now or dt.datetime.now()
    base = Path.cwd() / "outputs" / now.strftime("%Y-%m-%d")
    run = base / now.strftime("%H-%M-%S")
    suffix = 1
    while run.exists():  # two runs started in the same second
        run = base / f"{now.strftime('%H-%M-%S')}-{suffix}"
        suffix += 1
    return run


def _next_version(directory: Path) -> int:
    if _is_child_process() and RUN_VERSION_ENV in os.environ:
        return int(os.environ[RUN_VERSION_ENV])
    taken = (
        [
            int(p.name.split("_", 1)[1])
            for p in directory.glob("version_*")
            if p.is_dir() and p.name.split("_", 1)[1].isdigit()
        ]
        if directory.is_dir()
        else []
    )
    return max(taken) + 1 if taken else 0


@contextmanager
def _run_log(path: Path, level: str) -> Iterator[None]:
    """Send this run's messages (tracknet and lightning loggers) to ``path`` too."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ConfigError(f"run.log_level must be a logging level name, got {level!r}")
    created = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(numeric)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger("tracknet"), logging.getLogger("lightning.pytorch")]
    old_levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        if lg.level == logging.NOTSET or lg.level > numeric:
            lg.setLevel(numeric)
    refused = False
    try:
        yield
    except TrackNetError:
        refused = True
        raise
    finally:
        for lg, old in zip(loggers, old_levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(old)
        handler.close()
        if refused and created:
            _remove_refused_run(path, created)


def _remove_refused_run(log_path: Path, created: list[Path]) -> None:
    """Remove the folders a run refused for bad input created, when they hold nothing
    but its log: a refused run leaves no output (the error line says what was wrong)."""
    run_dir = created[0]
    if any(p.is_file() and p != log_path for p in run_dir.rglob("*")):
        return
    shutil.rmtree(run_dir, ignore_errors=True)
    for folder in created[1:]:  # parents made for it, innermost first, if left empty
        with contextlib.suppress(OSError):
            folder.rmdir()


def make_trainer(
    trainer_config: dict[str, Any],
    logs_root: Path,
    experiment: str,
    version: int,
    run_dir: Path,
    save_top_k: int,
) -> tuple[Any, Any]:
    """The Lightning Trainer of a run (TensorBoard logs, atomic checkpoints of the best
    ``val/loss`` and the last epoch) and its checkpoint callback."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import TensorBoardLogger

    logger = TensorBoardLogger(
        save_dir=str(logs_root), name=experiment, version=version, default_hp_metric=False
    )
    checkpoints = ModelCheckpoint(
        dirpath=str(logs_root / experiment / f"version_{version}" / CHECKPOINT_DIR),
        filename="epoch{epoch:03d}-loss{val/loss:.4f}",
        auto_insert_metric_name=False,
        monitor="val/loss",
        mode="min",
        save_top_k=save_top_k,
        save_last=True,
    )
    kwargs = {k: trainer_config[k] for k in _TRAINER_KEYS if trainer_config.get(k) is not None}
    try:
        trainer = L.Trainer(
            **kwargs,
            logger=logger,
            callbacks=[checkpoints],
            plugins=[AtomicCheckpointIO()],
            default_root_dir=str(run_dir),
            use_distributed_sampler=False,
        )
    except (ValueError, TypeError, RuntimeError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"trainer: {message}") from None
    return trainer, checkpoints
