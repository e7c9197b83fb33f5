"""Checkpoints open with weights_only=True and refuse what is not theirs, in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


def test_any_bytes_give_a_checkpoint_error_and_no_warning(
    tiny_checkpoint: Path, tmp_path: Path, recwarn: pytest.WarningsRecorder
) -> None:
    """Random bytes, bytes after a pickle header, and a real checkpoint with bytes changed:
    each opens as the model or fails with one CheckpointError line, never another error
    (random bytes once ended in ``IndexError: pop from empty list``)."""
    rng = np.random.default_rng(12)
    good = tiny_checkpoint.read_bytes()
    path = tmp_path / "fuzzed.ckpt"
    refused = 0
    for i in range(240):
        if i % 3 == 0:
            data = rng.bytes(int(rng.integers(0, 3000)))
        elif i % 3 == 1:
            data = b"\x80\x02" + rng.bytes(int(rng.integers(0, 200)))
        else:
            damaged = bytearray(good)
            for at in rng.integers(0, len(damaged), size=int(rng.integers(1, 20))):
                damaged[int(at)] = int(rng.integers(0, 256))
            data = bytes(damaged)
        path.write_bytes(data)
        try:
            load_checkpoint(path)
        except CheckpointError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(str(path))
            refused += 1
    assert refused >= 160  # every random file at least; a damaged real one may still load
    assert not [w for w in recwarn if "torch" in str(w.filename)]
