"""The straw seed classifier: an LSTM that picks, layer by layer, a seed's next hit.

:class:`SeedLstm` reads one feature row per layer (``n_candidates`` candidate slots and
the step's own features, see :mod:`tracknet.building.straw.seed_walk`) and scores the
slots and "none". Its checkpoints are of their own kind (:data:`SEED_LSTM_KIND`):
:func:`save_seed_lstm` and :func:`load_seed_lstm` (``weights_only=True``).

See docs/straw-building.md (The seed classifier).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError, ConfigError
from ..io.atomic import atomic_path

__all__ = [
    "SEED_LSTM_FORMAT",
    "SEED_LSTM_KIND",
    "LoadedSeedLstm",
    "SeedLstm",
    "load_seed_lstm",
    "save_seed_lstm",
    "seed_lstm_record",
]

SEED_LSTM_KIND = "straw_seed_lstm"
SEED_LSTM_FORMAT = 1
_PREFIX = "model."
_CONFIG_KEYS = ("n_candidates", "slot_features", "step_features", "hidden_size", "num_layers")


class SeedLstm(nn.Module):
    """LSTM over a seed's layers: logits ``(..., n_candidates + 1)``, the last one "none"."""

    def __init__(
        self,
        n_candidates: int,
        slot_features: int,
        step_features: int,
        hidden_size: int = 32,
        num_layers: int = 1,
    ) -> None:
        super().__init__()
        for name, value in (
            ("n_candidates", n_candidates),
            ("slot_features", slot_features),
            ("step_features", step_features),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"seed LSTM {name} must be an integer >= 1, got {value!r}")
        self.n_candidates = n_candidates
        self.slot_features = slot_features
        self.step_features = step_features
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.input_dim = n_candidates * slot_features + step_features
        self.lstm = nn.LSTM(self.input_dim, hidden_size, num_layers, batch_first=True)
        # Each slot is scored from the LSTM state and its own features, "none" from the state.
        self.slot = nn.Sequential(
            nn.Linear(hidden_size + slot_features, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, 1),
        )
        self.none = nn.Linear(hidden_size, 1)

    def config(self) -> dict[str, int]:
        return {k: int(getattr(self, k)) for k in _CONFIG_KEYS}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SeedLstm:
        unknown = set(config) - set(_CONFIG_KEYS)
        if unknown:
            raise ConfigError(f"unknown SeedLstm option(s) {sorted(unknown)}")
        return cls(**dict(config))

    def _logits(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        slots = x[..., : self.n_candidates * self.slot_features].reshape(
            *x.shape[:-1], self.n_candidates, self.slot_features
        )
        # The first layer of the slot scorer on [state, slot] is split into its state part,
        # computed once per row, and its slot part, computed per slot.
        first, relu, last = self.slot
        assert isinstance(first, nn.Linear)
        weight = first.weight
        hidden = nn.functional.linear(out, weight[:, : self.hidden_size], first.bias)
        hidden = hidden.unsqueeze(-2) + nn.functional.linear(slots, weight[:, self.hidden_size :])
        scores = last(relu(hidden)).squeeze(-1)
        present = slots[..., 0] > 0.5  # the first slot feature says whether the slot is filled
        scores = scores.masked_fill(~present, -1e4)
        return torch.cat([scores, self.none(out)], dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, T, K + 1)`` of feature sequences ``(B, T, input_dim)``."""
        out, _ = self.lstm(x)
        return self._logits(out, x)

    def step(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One layer for ``N`` seeds: logits ``(N, K + 1)`` and the new ``(h, c)``."""
        out, new = self.lstm(x[:, None, :], state)
        return self._logits(out[:, 0], x), (new[0], new[1])


@dataclass
class LoadedSeedLstm:
    """A seed classifier ready for inference and the facts of its training."""

    model: SeedLstm
    meta: dict[str, Any] = field(default_factory=dict)


def seed_lstm_record(model: SeedLstm, meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``hyper_parameters["tracknet"]`` record of a seed classifier: primitives only."""
    return {
        "format": SEED_LSTM_FORMAT,
        "kind": SEED_LSTM_KIND,
        "model": model.config(),
        "meta": dict(meta or {}),
    }


def save_seed_lstm(
    path: str | os.PathLike[str], model: SeedLstm, meta: Mapping[str, Any] | None = None
) -> Path:
    """Write a minimal seed-classifier checkpoint, atomically."""
    payload = {
        "state_dict": {_PREFIX + k: v.detach().cpu() for k, v in model.state_dict().items()},
        "hyper_parameters": {"tracknet": seed_lstm_record(model, meta)},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_seed_lstm(path: str | os.PathLike[str]) -> LoadedSeedLstm:
    """Open a seed-classifier checkpoint (``weights_only=True``); one-line errors otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # whatever the bytes make the unpickler raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({first[:160]})") from None
    record = (
        (payload.get("hyper_parameters") or {}).get("tracknet")
        if isinstance(payload, dict)
        else None
    )
    kind = record.get("kind") if isinstance(record, dict) else None
    if kind != SEED_LSTM_KIND:
        raise CheckpointError(
            f"{path}: not a seed-classifier checkpoint (kind {kind!r}, not {SEED_LSTM_KIND!r}); "
            "train one with `tracknet train experiment=straw_seed`"
        )
    assert isinstance(record, dict)
    if record.get("format") != SEED_LSTM_FORMAT:
        raise CheckpointError(
            f"{path}: seed-classifier format {record.get('format')!r}, "
            f"this TrackNET reads {SEED_LSTM_FORMAT}"
        )
    try:
        model = SeedLstm.from_config(record["model"])
        state = {
            k[len(_PREFIX) :]: v for k, v in payload["state_dict"].items() if k.startswith(_PREFIX)
        }
        model.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError, ConfigError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: a damaged seed-classifier checkpoint ({first[:160]})"
        ) from None
    model.eval()
    return LoadedSeedLstm(model=model, meta=dict(record.get("meta") or {}))
