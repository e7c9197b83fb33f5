"""Training that can be stopped: whole checkpoints only, and a stop that is never a success.

* :class:`AtomicCheckpointIO` writes every checkpoint Lightning saves to a temporary
  sibling and renames it when complete (Lightning's own writer goes through a temporary
  file in the system's temporary directory and then copies it, which a signal can cut
  short on another file system).
* :func:`stopping_training` turns an interrupt inside ``trainer.fit`` into one
  :class:`~tracknet.interrupts.Interrupted` that says which checkpoint is complete and
  how to resume, whatever Lightning made of the signal, and keeps Lightning's own
  "Received SIGTERM" line off the terminal (``train.log`` gets a line of ours).

TensorBoard event files are append-only logs: an interrupted run may end them half way
through a record, which TensorBoard reads up to that record.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from ..interrupts import Interrupted, interrupt_of
from ..io.atomic import atomic_path

__all__ = [
    "CHECKPOINT_DIR",
    "AtomicCheckpointIO",
    "complete_checkpoint",
    "interrupt_outcome",
    "stopping_training",
]

#: The folder of a run's ``version_N/`` that holds its checkpoints (StepAhead TrackNET's layout).
CHECKPOINT_DIR = "checkpoints"

log = logging.getLogger("tracknet.training")

#: Lightning's logger of the signals it handles (its INFO lines go to the terminal).
_SIGNAL_LOGGER = "lightning.pytorch.trainer.connectors.signal_connector"


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` into a temporary sibling, renamed onto the checkpoint's name when whole."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO.save_checkpoint takes no storage_options")
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)


def complete_checkpoint(folder: Path) -> Path | None:
    """The checkpoint a run would resume from: ``last.ckpt``, else the newest ``*.ckpt``, of
    ``folder/checkpoints/``, else of ``folder`` itself (a ``checkpoints/`` folder named
    directly, or a version folder of the earlier layout, checkpoints beside the logs)."""
    for where in (folder / CHECKPOINT_DIR, folder):
        if (where / "last.ckpt").is_file():
            return where / "last.ckpt"
        found = sorted(
            (p for p in where.glob("*.ckpt") if p.is_file()), key=lambda p: p.stat().st_mtime
        )
        if found:
            return found[-1]
    return None


def interrupt_outcome(log_dir: Path) -> str:
    """What an interrupted run of version folder ``log_dir`` leaves: its complete checkpoint,
    and how to go on."""
    found = complete_checkpoint(log_dir)
    if found is None:
        return "no checkpoint written yet; rerun to start again"
    return f"last complete checkpoint {found}; resume with training.resume_from={found}"


@contextmanager
def stopping_training(trainer: Any, log_dir: Path) -> Iterator[None]:
    """Run ``trainer.fit`` inside: an interrupt, or a fit that Lightning ended early because of
    a signal (its SIGTERM flag, or its ``sys.exit(1)`` after a bare ``KeyboardInterrupt``),
    raises :class:`Interrupted` naming the complete checkpoint of ``log_dir``."""
    from lightning.pytorch.trainer.states import TrainerStatus
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    signal_log = logging.getLogger(_SIGNAL_LOGGER)
    level = signal_log.level
    signal_log.setLevel(logging.WARNING)
    try:
        yield
    except BaseException as exc:
        interrupted = interrupt_of(exc)
        if interrupted is None:
            if isinstance(exc, SIGTERMException):  # Lightning saw SIGTERM (not our handler)
                interrupted = Interrupted(signal.SIGTERM)
            elif isinstance(exc, SystemExit) and trainer.state.status == TrainerStatus.INTERRUPTED:
                interrupted = Interrupted(signal.SIGINT)  # its sys.exit(1) on KeyboardInterrupt
            else:
                raise
        log.warning("training interrupted by %s", signal.Signals(interrupted.signum).name)
        interrupted.outcome = interrupt_outcome(log_dir)
        if interrupted is exc:
            raise
        raise interrupted from None
    finally:
        signal_log.setLevel(level)
    if trainer.received_sigterm or trainer.state.status == TrainerStatus.INTERRUPTED:
        log.warning("training stopped by a signal before its end")
        raise Interrupted(signal.SIGTERM, interrupt_outcome(log_dir))
