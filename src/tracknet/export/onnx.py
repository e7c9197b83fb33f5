"""Export the step function of a StepAhead TrackNET checkpoint to ONNX, and check it.

The graph is :meth:`tracknet.model.StepAheadTrackNet.step` with an explicit state (inputs
``x_t``, ``state``; outputs ``t1_center``, ``t1_radius``, ``t2_center``, ``t2_radius``,
``new_state``) in the model frame of the checkpoint's normaliser, dynamic batch size.
:func:`export_onnx` writes it and compares onnxruntime with PyTorch (``atol``).

See ``docs/model.md`` (ONNX export) for the shapes; needs the extra ``tracknet[onnx]``.
"""

from __future__ import annotations

import importlib
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..io.atomic import atomic_path
from ..model.checkpoint import load_checkpoint
from ..model.step_ahead import StepAheadTrackNet

__all__ = [
    "DEFAULT_OPSET",
    "INPUT_NAMES",
    "OPSET_RANGE",
    "OUTPUT_NAMES",
    "StepFunction",
    "check_onnx",
    "export_onnx",
    "require_onnx",
]

INPUT_NAMES: tuple[str, ...] = ("x_t", "state")
OUTPUT_NAMES: tuple[str, ...] = ("t1_center", "t1_radius", "t2_center", "t2_radius", "new_state")
DEFAULT_OPSET = 17
#: The opsets the step graph exports to (older ones lack its operators; newer ones are
#: beyond PyTorch's TorchScript exporter).
OPSET_RANGE = (11, 20)


class StepFunction(nn.Module):
    """``(x_t, state) -> (t1_center, t1_radius, t2_center, t2_radius, new_state)``."""

    def __init__(self, model: StepAheadTrackNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, x_t: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        pred, new_state = self.model.step(x_t, state)
        return pred.t1_center, pred.t1_radius, pred.t2_center, pred.t2_radius, new_state


def require_onnx() -> tuple[Any, Any]:
    """``(onnx, onnxruntime)``, or a one-line :class:`ConfigError` naming the missing extra."""
    try:
        onnx = importlib.import_module("onnx")
        ort = importlib.import_module("onnxruntime")
    except ImportError as exc:
        raise ConfigError(
            "ONNX export needs the optional packages onnx and onnxruntime "
            f"({exc.name} is missing): pip install 'tracknet[onnx]'"
        ) from None
    return onnx, ort


def _sample_tracks(model: StepAheadTrackNet, batch: int, steps: int, seed: int) -> torch.Tensor:
    """Plausible hit sequences in the model frame: outward helices-ish from near the origin."""
    gen = np.random.default_rng(seed)
    d = model.input_dim
    radii = np.linspace(0.03, 0.03 + 0.1 * (steps - 1), steps)
    phi = gen.uniform(-np.pi, np.pi, (batch, 1)) + gen.normal(0.0, 0.02, (batch, 1)) * radii
    cot = gen.uniform(-2.0, 2.0, (batch, 1))
    columns = [
        radii * np.cos(phi),
        radii * np.sin(phi),
        cot * radii + gen.normal(0, 0.005, (batch, 1)),
    ]
    x = np.stack(columns[:d], axis=-1)
    return torch.from_numpy(x.astype(np.float32))


def check_onnx(
    path: str | os.PathLike[str],
    model: StepAheadTrackNet,
    *,
    batch_sizes: tuple[int, ...] = (1, 5, 64),
    steps: int = 4,
    atol: float = 1e-4,
    seed: int = 0,
) -> float:
    """Largest |onnxruntime - PyTorch| over all outputs and steps; raises if above ``atol``."""
    _, ort = require_onnx()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    model = model.eval()
    for i, batch in enumerate(batch_sizes):
        x = _sample_tracks(model, batch, steps, seed + i)
        state_t = model.initial_hidden(batch)
        state_o = state_t.numpy()
        for t in range(steps):
            with torch.no_grad():
                expected = StepFunction(model)(x[:, t], state_t)
            got = session.run(list(OUTPUT_NAMES), {"x_t": x[:, t].numpy(), "state": state_o})
            for e, g in zip(expected, got, strict=True):
                if tuple(e.shape) != tuple(g.shape):
                    raise ConfigError(
                        f"ONNX output shape {g.shape} differs from PyTorch {tuple(e.shape)}"
                    )
                worst = max(worst, float(np.max(np.abs(e.numpy() - g))) if e.numel() else 0.0)
            state_t = expected[-1]
            state_o = got[-1]
    if not worst <= atol:
        raise ConfigError(f"ONNX export differs from PyTorch by {worst:.3g} (> {atol:g})")
    return worst


def _trace_to_onnx(
    wrapper: nn.Module,
    example: tuple[torch.Tensor, torch.Tensor],
    path: Path,
    dynamic_axes: dict[str, dict[int, str]],
    opset: int,
) -> None:
    with warnings.catch_warnings():
        # The tracer notes that shape checks become constants, and the TorchScript-based
        # exporter announces its deprecation: neither concerns this fixed-rank step graph.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        torch.onnx.export(
            wrapper,
            example,
            str(path),
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=dynamic_axes,
            opset_version=opset,
            dynamo=False,  # the dynamo exporter needs onnxscript, which the extra does not pull in
        )


def export_onnx(
    checkpoint: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    atol: float = 1e-4,
) -> dict[str, Any]:
    """Write the step function of ``checkpoint`` to ``out`` (atomically) and check it.

    Returns a summary: path, opset, input/output names, model settings, the largest
    difference to PyTorch found by :func:`check_onnx`.
    """
    low, high = OPSET_RANGE
    if isinstance(opset, bool) or not isinstance(opset, int) or not low <= opset <= high:
        raise ConfigError(f"--opset must be an integer in [{low}, {high}], got {opset!r}")
    onnx, _ = require_onnx()
    loaded = load_checkpoint(checkpoint)
    model = loaded.model.eval()
    wrapper = StepFunction(model).eval()
    batch = 3
    example = (_sample_tracks(model, batch, 1, 0)[:, 0], model.initial_hidden(batch))
    out = Path(out)
    dynamic_axes = {
        "x_t": {0: "batch"},
        "state": {1: "batch"},
        "t1_center": {0: "batch"},
        "t1_radius": {0: "batch"},
        "t2_center": {0: "batch"},
        "t2_radius": {0: "batch"},
        "new_state": {1: "batch"},
    }
    with atomic_path(out) as tmp:
        try:
            _trace_to_onnx(wrapper, example, tmp, dynamic_axes, int(opset))
        except Exception as exc:  # the exporter raises many types; one line for the user
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"ONNX export failed: {message[:200]}") from None
        onnx.checker.check_model(onnx.load(str(tmp)))
        worst = check_onnx(tmp, model, atol=atol)
    return {
        "onnx": str(out),
        "checkpoint": str(checkpoint),
        "opset": int(opset),
        "inputs": list(INPUT_NAMES),
        "outputs": list(OUTPUT_NAMES),
        "model": model.config(),
        "normalizer": loaded.normalizer.config(),
        "max_abs_diff_vs_torch": worst,
    }
