"""Helpers shared by the benchmark scripts (each prints one JSON line)."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_TRACKML = (REPO_ROOT / ".." / "shared" / "data" / "trackml").resolve()


def pin_to_one_core() -> bool:
    """Run on one core, as the speed targets are stated per core."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        return True
    return False


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """Median wall time of ``fn`` over ``repeats`` runs (after one warm-up run)."""
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def emit(name: str, figures: dict[str, Any]) -> None:
    record = {
        "benchmark": name,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        **figures,
    }
    print(json.dumps(record, sort_keys=True))
