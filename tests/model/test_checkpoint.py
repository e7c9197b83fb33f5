"""Checkpoints open with weights_only=True and refuse what is not theirs, in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tracknet.data.normalize import Normalizer
from tracknet.errors import CheckpointError
from tracknet.model.checkpoint import load_checkpoint, save_checkpoint
from tracknet.model.step_ahead import StepAheadTrackNet


def test_roundtrip_with_weights_only(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = StepAheadTrackNet(hidden_size=16)
    path = save_checkpoint(
        tmp_path / "m.ckpt", model, Normalizer(scale_mm=500.0), {"detector": "trackml"}
    )
    raw = torch.load(path, weights_only=True)
    assert raw["hyper_parameters"]["tracknet"]["model"]["hidden_size"] == 16
    loaded = load_checkpoint(path)
    assert loaded.normalizer.scale_mm == 500.0 and loaded.meta == {"detector": "trackml"}
    x = torch.randn(3, 5, 3)
    torch.testing.assert_close(loaded.model(x).t1_center, model.eval()(x).t1_center)


def test_bad_checkpoints_give_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint at all")
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "hyper_parameters": {"lr": 0.1}}, foreign)
    mismatched = tmp_path / "mismatched.ckpt"
    save_checkpoint(mismatched, StepAheadTrackNet(hidden_size=8), Normalizer())
    payload = torch.load(mismatched, weights_only=True)
    payload["hyper_parameters"]["tracknet"]["model"]["hidden_size"] = 12
    torch.save(payload, mismatched)
    cases = {
        tmp_path / "missing.ckpt": "not found",
        garbage: "not a readable checkpoint",
        foreign: "not a StepAhead TrackNET checkpoint",
        mismatched: "weights do not fit",
    }
    for path, fragment in cases.items():
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
        assert fragment in str(info.value) and "\n" not in str(info.value)
