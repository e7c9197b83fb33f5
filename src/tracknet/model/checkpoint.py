"""StepAhead TrackNET checkpoints: what they hold, how to open them without Lightning.

A ``torch.save`` dictionary of tensors and primitives (``weights_only=True``) in
Lightning's layout: ``hyper_parameters["tracknet"]`` (format, kind, model and normaliser
config, ``meta``) and ``state_dict`` (keys prefixed ``"model."``). :func:`save_checkpoint`
writes one, :func:`load_checkpoint` opens one into a :class:`LoadedModel`.

See ``docs/model.md`` (Checkpoints).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tracknet.data.normalize import Normalizer
from tracknet.errors import CheckpointError
from tracknet.io.atomic import atomic_path
from tracknet.model.seed_lstm import SEED_LSTM_KIND
from tracknet.model.step_ahead import StepAheadTrackNet

__all__ = [
    "FORMAT_VERSION",
    "MODEL_KIND",
    "STATE_PREFIX",
    "LoadedModel",
    "checkpoint_hparams",
    "load_checkpoint",
    "save_checkpoint",
]

FORMAT_VERSION = 1
MODEL_KIND = "step_ahead_tracknet"
STATE_PREFIX = "model."


@dataclass
class LoadedModel:
    """A model ready for inference (eval mode), its coordinate frame and its facts."""

    model: StepAheadTrackNet
    normalizer: Normalizer
    meta: dict[str, Any] = field(default_factory=dict)


def checkpoint_hparams(
    model: StepAheadTrackNet, normalizer: Normalizer, meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``hyper_parameters["tracknet"]`` record: primitives only."""
    return {
        "format": FORMAT_VERSION,
        "kind": MODEL_KIND,
        "model": dict(model.config()),
        "normalizer": dict(normalizer.config()),
        "meta": dict(meta or {}),
    }


def save_checkpoint(
    path: str | os.PathLike[str],
    model: StepAheadTrackNet,
    normalizer: Normalizer,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write a minimal checkpoint (no Lightning state), atomically."""
    payload = {
        "state_dict": {STATE_PREFIX + k: v.detach().cpu() for k, v in model.state_dict().items()},
        "hyper_parameters": {"tracknet": checkpoint_hparams(model, normalizer, meta)},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> LoadedModel:
    """Open a TrackNET checkpoint with ``weights_only=True``; one-line errors otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        with warnings.catch_warnings():  # the unpickler's notes on odd bytes are not for users
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # whatever the bytes make the unpickler raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({first[:160]})") from None
    try:
        return _loaded_model(path, payload)
    except CheckpointError:
        raise
    except Exception as exc:  # a damaged file that still unpickles: wrong types inside
        raise CheckpointError(
            f"{path}: a damaged checkpoint ({type(exc).__name__}: {str(exc)[:120]})"
        ) from None


def _loaded_model(path: Path, payload: Any) -> LoadedModel:
    """The model of an unpickled checkpoint ``payload``, with its checks."""
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path}: not a TrackNET checkpoint (no dictionary inside)")
    record = (payload.get("hyper_parameters") or {}).get("tracknet")
    if isinstance(record, dict) and record.get("kind") == SEED_LSTM_KIND:
        raise CheckpointError(
            f"{path}: a seed-classifier (LSTM) checkpoint, not a StepAhead TrackNET one; "
            "build with it by --algorithm seed-lstm"
        )
    if not isinstance(record, dict) or record.get("kind") != MODEL_KIND:
        raise CheckpointError(
            f"{path}: not a StepAhead TrackNET checkpoint "
            f"(no 'tracknet' record of kind {MODEL_KIND!r})"
        )
    if record.get("format") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {record.get('format')!r}, "
            f"this TrackNET reads {FORMAT_VERSION}"
        )
    try:
        model = StepAheadTrackNet.from_config(record["model"])
        normalizer = Normalizer.from_config(record["normalizer"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: model settings in the checkpoint are invalid ({exc})"
        ) from None
    state = payload.get("state_dict")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: checkpoint has no state_dict")
    weights = {k[len(STATE_PREFIX) :]: v for k, v in state.items() if k.startswith(STATE_PREFIX)}
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(
            f"{path}: weights do not fit the model they claim to be ({first[:160]})"
        ) from None
    model.eval()
    return LoadedModel(model=model, normalizer=normalizer, meta=dict(record.get("meta") or {}))
