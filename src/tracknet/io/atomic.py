"""Atomic output: a file appears complete under its final name, or not at all."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_path",
    "atomic_paths",
    "json_line",
    "json_ready",
    "write_json_atomic",
    "write_text_atomic",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_sibling(path: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp creates 0600; the final file gets the usual permissions of a new file.
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    return Path(name)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    with atomic_paths([path]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_paths(
    paths: Sequence[str | os.PathLike[str]],
) -> Iterator[tuple[Path, ...]]:
    """Like :func:`atomic_path` for several files that belong together.

    Every file is written to a temporary sibling first; only when all of them were
    written without error are they renamed, one after the other, onto their final names.
    """
    finals = [Path(p) for p in paths]
    temps: list[Path] = []
    try:
        for final in finals:
            final.parent.mkdir(parents=True, exist_ok=True)
            temps.append(_temp_sibling(final))
        yield tuple(temps)
        for tmp, final in zip(temps, finals, strict=True):
            os.replace(tmp, final)
    finally:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def json_ready(value: Any) -> Any:
    """``value`` with NaN and inf replaced by None (at any depth): strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def json_line(data: Any) -> str:
    """One line of strict JSON with sorted keys (what ``--json`` options print)."""
    return json.dumps(json_ready(data), sort_keys=True)


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    """Write strict JSON (NaN and inf as null), atomically."""
    return write_text_atomic(path, json.dumps(json_ready(data), indent=2, sort_keys=True) + "\n")
