"""``tracknet density``: the hit density map of a directory of events, written for the metric.

:func:`build_density_map` averages the hits of every event (noise included) on a voxel
grid and saves the map that the expected-hits metric loads.

See docs/model.md.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from ..io.event_files import EVENT_FILES
from ..io.trackml import list_events, read_event
from ..model.density import DensityMap

__all__ = ["build_density_map"]


#: The largest voxel edge (mm): one voxel then holds the whole TrackML detector.
MAX_VOXEL_SIZE_MM = 10_000.0


def build_density_map(
    data_dir: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    voxel_size_mm: float = 20.0,
    max_events: int | None = None,
) -> dict[str, Any]:
    """Write the density map of the events of ``data_dir`` to ``output``; return a summary."""
    if not (
        isinstance(voxel_size_mm, (int, float))
        and math.isfinite(voxel_size_mm)
        and 0 < voxel_size_mm <= MAX_VOXEL_SIZE_MM
    ):
        raise ConfigError(
            f"--voxel-size must be a number of mm in (0, {MAX_VOXEL_SIZE_MM:g}], "
            f"got {voxel_size_mm!r}"
        )
    if max_events is not None and max_events < 1:
        raise ConfigError(f"--max-events must be >= 1, got {max_events}")
    prefixes = list_events(data_dir)
    if not prefixes:
        raise DataError(f"no TrackML events ({EVENT_FILES}) in directory", file=str(data_dir))
    if max_events is not None:
        prefixes = prefixes[:max_events]
    output = Path(output)
    if output.suffix != ".npz":
        raise ConfigError(f"--output must name a .npz file, got {output}")
    events = (read_event(p, parts=("hits",)) for p in prefixes)
    density = DensityMap.from_events(events, voxel_size_mm=float(voxel_size_mm))
    density.save(output)
    return {
        "output": str(output),
        "n_events": density.n_events,
        "voxel_size_mm": density.voxel_size_mm,
        "shape": list(density.shape),
        "origin_mm": [float(v) for v in density.origin_mm],
        "max_density_per_mm3": float(density.density_per_mm3.max()),
    }
