"""Reading ``.npz`` array files strictly: any damage is one :class:`DataError` line."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["read_npz"]


def read_npz(path: str | os.PathLike[str], what: str) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` file ``path`` (``what`` names it in errors: "module map").

    A missing file, a folder, pickled objects, or bytes that zip or the decompressor
    reject (a bad CRC, a truncated stream, a foreign file) raise one ``DataError``.
    """
    source = Path(path)
    if not source.is_file():
        raise DataError(f"{what} not found", file=str(source))
    try:
        with np.load(source, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except MemoryError:
        raise DataError(f"cannot read {what}: too large for memory", file=str(source)) from None
    except Exception as exc:  # whatever the damaged bytes make zip, zlib or numpy raise
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot read {what} (.npz): {reason[:160]}", file=str(source)) from None
