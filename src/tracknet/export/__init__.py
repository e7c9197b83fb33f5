"""Model export: the StepAhead TrackNET step function as ONNX (:mod:`tracknet.export.onnx`).

Submodules are imported on use; ``onnx``/``onnxruntime`` are only needed for the export.
See ``docs/model.md`` (ONNX export).
"""

from __future__ import annotations

__all__: list[str] = []
