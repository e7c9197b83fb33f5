"""Straw alignment constants: each straw's offset along ``y`` from its design position.

Estimated from isolated tracks without truth (:mod:`tracknet.building.straw.align`,
``tracknet align``), written as JSON and applied by the straw builder
(``StrawBuildConfig.alignment``) to the hits' design positions before building.
See ``docs/straw-building.md`` (Alignment).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConfigError, DataError
from ...io.atomic import write_text_atomic
from ...simulation.straw import StrawBatch, StrawGeometry

__all__ = ["StrawAlignment", "aligned", "load_alignment"]

FORMAT = "tracknet-straw-alignment"
VERSION = 1


@dataclass(frozen=True)
class StrawAlignment:
    """``straw_dy_mm`` (by ``straw_id``) for the straw ``geometry`` (its parameters) it
    was estimated on; ``meta`` says from what."""

    straw_dy_mm: np.ndarray
    geometry: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    def check_geometry(self, geometry: StrawGeometry, where: str = "straw alignment") -> None:
        """A one-line :class:`~tracknet.errors.DataError` unless made for ``geometry``."""
        if StrawGeometry.from_dict(self.geometry) != geometry:
            raise DataError(f"{where} was estimated for another straw geometry than the data's")

    def apply(self, batch: StrawBatch, geometry: StrawGeometry) -> StrawBatch:
        """``batch`` with every hit's ``y`` moved by its straw's offset (nothing else
        changes)."""
        self.check_geometry(geometry)
        straw = batch.hits["straw_id"]
        if len(straw) and (straw.min() < 0 or straw.max() >= len(self.straw_dy_mm)):
            raise DataError(
                f"straw alignment holds {len(self.straw_dy_mm)} straws, the data names straw "
                f"{int(straw.max()) if straw.max() >= 0 else int(straw.min())}"
            )
        hits = dict(batch.hits)
        y = hits["y"]
        hits["y"] = (y + self.straw_dy_mm[straw]).astype(y.dtype, copy=False)
        return StrawBatch(batch.events, hits, batch.particles, dict(batch.meta))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the constants as JSON, atomically."""
        record = {
            "format": FORMAT,
            "version": VERSION,
            "geometry": self.geometry,
            "straw_dy_mm": [round(float(v), 6) for v in self.straw_dy_mm],
            "meta": self.meta,
        }
        target = Path(path)
        write_text_atomic(target, json.dumps(record, indent=1, sort_keys=True) + "\n")
        return target


def _read(path: Path) -> StrawAlignment:
    where = f"straw alignment {path}"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{where}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{where}: not a readable JSON file ({exc.__class__.__name__})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ConfigError(f"{where}: not a straw alignment file (format {FORMAT!r})")
    if record.get("version") != VERSION:
        raise ConfigError(
            f"{where}: version {record.get('version')!r}, this TrackNET reads {VERSION}"
        )
    geometry = record.get("geometry")
    try:
        n_straws = StrawGeometry.from_dict(geometry).n_straws if isinstance(geometry, dict) else -1
        dy = np.asarray(record.get("straw_dy_mm"), dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: unreadable geometry or offsets") from None
    if n_straws < 0 or dy.shape != (n_straws,) or not np.all(np.isfinite(dy)):
        raise ConfigError(f"{where}: needs one finite offset per straw of its geometry")
    meta = record.get("meta")
    assert isinstance(geometry, dict)
    return StrawAlignment(dy, geometry, meta if isinstance(meta, dict) else {})


@lru_cache(maxsize=8)
def _cached(path: str, stamp: tuple[int, int]) -> StrawAlignment:
    return _read(Path(path))


def load_alignment(path: str | os.PathLike[str]) -> StrawAlignment:
    """The constants of a file written by :meth:`StrawAlignment.save` (read once per
    version of the file); a file that is not one is one
    :class:`~tracknet.errors.ConfigError` line."""
    target = Path(path)
    try:
        stat = target.stat()
    except OSError:
        raise ConfigError(f"straw alignment {path}: file not found") from None
    return _cached(str(target.resolve()), (stat.st_mtime_ns, stat.st_size))


def aligned(batch: StrawBatch, geometry: StrawGeometry, path: str | None) -> StrawBatch:
    """``batch`` at the positions of the alignment file ``path`` (None: as it is)."""
    return batch if path is None else load_alignment(path).apply(batch, geometry)
