"""ONNX export of the step function: dynamic batch, same numbers as PyTorch, clear errors."""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tracknet.data.normalize import Normalizer
from tracknet.errors import ConfigError
from tracknet.export.onnx import OUTPUT_NAMES, StepFunction, export_onnx, require_onnx
from tracknet.model import StepAheadTrackNet
from tracknet.model.checkpoint import save_checkpoint

onnxruntime = pytest.importorskip(
    "onnxruntime", reason="the optional extra tracknet[onnx] is not installed"
)


def _checkpoint(
    tmp_path: Path, features: str, input_dim: int = 3
) -> tuple[Path, StepAheadTrackNet]:
    model = StepAheadTrackNet(input_dim, hidden_size=12, num_layers=2, features=features)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
    model.set_radius_scales(1.7, 0.8, t1_max=0.05)
    return save_checkpoint(tmp_path / f"{features}.ckpt", model, Normalizer()), model.eval()


@pytest.mark.parametrize("features", ["cylindrical", "position", "delta"])
def test_export_matches_pytorch_for_any_batch_size(tmp_path: Path, features: str) -> None:
    path, model = _checkpoint(tmp_path, features)
    summary = export_onnx(path, tmp_path / "m.onnx")
    assert summary["max_abs_diff_vs_torch"] <= 1e-4 and summary["outputs"] == list(OUTPUT_NAMES)
    session = onnxruntime.InferenceSession(
        str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]
    )
    gen = np.random.default_rng(3)
    for batch in (1, 9, 300):
        # a short track per row, starting from the all-zero state (incl. the origin case)
        x = gen.normal(0.0, 0.3, (batch, 4, 3)).astype(np.float32)
        state = np.zeros((2, batch, model.state_size), dtype=np.float32)
        state_t = torch.from_numpy(state)
        for t in range(4):
            got = session.run(None, {"x_t": x[:, t], "state": state})
            with torch.no_grad():
                want = StepFunction(model)(torch.from_numpy(x[:, t]), state_t)
            for g, w in zip(got, want, strict=True):
                assert g.shape == tuple(w.shape)
                np.testing.assert_allclose(g, w.numpy(), atol=1e-4, rtol=0)
            state, state_t = got[-1], want[-1]
    # the radius cap is part of the graph
    assert float(np.max(got[1])) <= 0.05 + 1e-7


def test_export_command_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tracknet.training.__main__ import main

    path, _ = _checkpoint(tmp_path, "cylindrical")
    with pytest.raises(SystemExit) as info:
        main(["export", "--checkpoint", str(path), "--out", str(tmp_path / "cli.onnx"), "--json"])
    assert info.value.code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["onnx"].endswith("cli.onnx") and (tmp_path / "cli.onnx").is_file()


def test_missing_optional_packages_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: object, **kwargs: object) -> object:
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'", name="onnxruntime")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    import importlib

    monkeypatch.setattr(importlib, "import_module", lambda name: fake_import(name))
    with pytest.raises(ConfigError, match=r"tracknet\[onnx\]") as info:
        require_onnx()
    assert "\n" not in str(info.value) and "onnxruntime" in str(info.value)
