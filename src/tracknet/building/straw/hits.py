"""The hits of a chunk of straw events, flat and sorted for windowed search."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import DataError

__all__ = ["StrawHits"]

_Y_OFFSET = 5.0e3  # mm: y + offset is positive for any detector smaller than 10 m
_KEY_SPAN = 1.0e4  # mm between two (event, layer) groups of the search key


@dataclass(frozen=True, eq=False)
class StrawHits:
    """The hits of a chunk of events, flat: ``event`` (row 0..E-1), ``x, y, drift`` (mm),
    ``layer`` (global), and the search order ``order`` / ``key`` (sorted by event, layer, y)."""

    event: np.ndarray
    x: np.ndarray
    y: np.ndarray
    drift: np.ndarray
    layer: np.ndarray
    layer_x: np.ndarray
    layers_per_module: int
    pitch_mm: float
    order: np.ndarray
    key: np.ndarray
    straw_radius_mm: float = 3.0

    @classmethod
    def make(
        cls,
        event: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        drift: np.ndarray,
        layer: np.ndarray,
        layer_x: np.ndarray,
        layers_per_module: int,
        pitch_mm: float,
        straw_radius_mm: float | None = None,
    ) -> StrawHits:
        """``straw_radius_mm`` (default: half the pitch) bounds the drift distances."""
        event = np.asarray(event, dtype=np.int64)
        layer = np.asarray(layer, dtype=np.int64)
        y = np.asarray(y, dtype=np.float64)
        n_layers = len(layer_x)
        if len(layer) and (layer.min() < 0 or layer.max() >= n_layers):
            raise DataError(f"straw hits lie on layers outside the geometry's {n_layers} layers")
        if len(y) and np.abs(y).max() >= _Y_OFFSET:
            raise DataError(f"straw hits with |y| >= {_Y_OFFSET} mm")
        key = (event * n_layers + layer) * _KEY_SPAN + (y + _Y_OFFSET)
        order = np.argsort(key, kind="stable")
        return cls(
            event,
            np.asarray(x, dtype=np.float64),
            y,
            np.asarray(drift, dtype=np.float64),
            layer,
            np.asarray(layer_x, dtype=np.float64),
            int(layers_per_module),
            float(pitch_mm),
            order,
            key[order],
            float(0.5 * pitch_mm if straw_radius_mm is None else straw_radius_mm),
        )

    @property
    def n_layers(self) -> int:
        return len(self.layer_x)

    def __len__(self) -> int:
        return len(self.event)

    def window(
        self, event: np.ndarray, layer: np.ndarray, y_lo: np.ndarray, y_hi: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Flat ``(query, hit row)`` pairs: the hits of ``(event, layer)`` with
        ``y_lo <= y <= y_hi``."""
        base = (np.asarray(event, dtype=np.int64) * self.n_layers + layer) * _KEY_SPAN + _Y_OFFSET
        lo = np.searchsorted(self.key, base + y_lo, side="left")
        hi = np.searchsorted(self.key, base + y_hi, side="right")
        count = np.maximum(hi - lo, 0)
        query = np.repeat(np.arange(len(lo), dtype=np.int64), count)
        starts = np.cumsum(count) - count
        pos = np.repeat(lo - starts, count) + np.arange(int(count.sum()), dtype=np.int64)
        return query, self.order[pos]
