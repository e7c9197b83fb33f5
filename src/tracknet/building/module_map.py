"""Module maps: which detector modules real tracks connect, learned from truth-labelled events.

A :class:`ModuleMap` records, for the hits of every true particle taken in trajectory
order (:func:`~tracknet.data.tracks.event_tracks`), the ``(volume_id, layer_id,
module_id)`` pairs of consecutive hits and the triplets of three consecutive hits, with
per pair the observed ranges of the azimuth step and of the ``(r, z)`` line's beam-line
intercept ``z0``. Seeding with a map (``SeedStage.module_map``, see
:mod:`~tracknet.building.seeding`) forms candidate pairs and triplets only between
connected modules, which cuts the combinatorics at low transverse momentum.

Consecutive hits of one track on the same layer (a double hit on two overlapping modules)
form one *layer group*; every module of a group is connected to every module of the next
group (and triplets span three consecutive groups), so a seed may use either hit of a
double.

A map is saved as one ``.npz`` (written atomically) holding ``version``
(:data:`MODULE_MAP_FORMAT_VERSION`), the arrays and a JSON ``meta`` string (where the
events came from: directory, event ids, the simulation settings and seed when known).

See docs/seeding.md (Module maps).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..data.tracks import TrackSet, event_tracks
from ..errors import DataError
from ..events import Event
from ..io.arrays import read_npz
from ..io.atomic import atomic_path

__all__ = [
    "MODULE_MAP_FORMAT_VERSION",
    "ModuleMap",
    "build_module_map",
    "load_module_map",
    "module_keys",
]

#: Version written into every saved module map; a file of another version is refused.
MODULE_MAP_FORMAT_VERSION = 1

_ID_BITS = 21  # volume, layer and module ids each below 2**21 (TrackML: < 20, < 20, < 4000)
_ID_LIMIT = 1 << _ID_BITS
_ARRAYS = (
    "modules", "pairs", "triplets", "pair_count", "dphi_low", "dphi_high", "z0_low", "z0_high",
)  # fmt: skip


def module_keys(volume_id: np.ndarray, layer_id: np.ndarray, module_id: np.ndarray) -> np.ndarray:
    """One int64 per ``(volume_id, layer_id, module_id)``, each id in ``[0, 2**21)``."""
    ids = [np.asarray(a, dtype=np.int64) for a in (volume_id, layer_id, module_id)]
    for name, values in zip(("volume_id", "layer_id", "module_id"), ids, strict=True):
        if values.size and (values.min() < 0 or values.max() >= _ID_LIMIT):
            raise DataError(f"{name} must lie in [0, {_ID_LIMIT}) for a module map")
    key: np.ndarray = (ids[0] << (2 * _ID_BITS)) | (ids[1] << _ID_BITS) | ids[2]
    return key


def _wrap(angle: np.ndarray) -> np.ndarray:
    wrapped: np.ndarray = np.remainder(angle + np.pi, 2 * np.pi) - np.pi
    return wrapped


def pair_z0(positions_a: np.ndarray, positions_b: np.ndarray) -> np.ndarray:
    """Beam-line intercept (mm) of the ``(r, z)`` line through two hits; nan when ``r`` is equal."""
    ra = np.hypot(positions_a[:, 0], positions_a[:, 1])
    rb = np.hypot(positions_b[:, 0], positions_b[:, 1])
    dr = rb - ra
    with np.errstate(divide="ignore", invalid="ignore"):
        z0: np.ndarray = np.where(
            dr != 0,
            positions_a[:, 2] - ra * (positions_b[:, 2] - positions_a[:, 2]) / dr,
            np.nan,
        )
    return z0


def pair_dphi(positions_a: np.ndarray, positions_b: np.ndarray) -> np.ndarray:
    """Azimuth step ``phi_b - phi_a`` (rad, wrapped into ``[-pi, pi)``)."""
    return _wrap(
        np.arctan2(positions_b[:, 1], positions_b[:, 0])
        - np.arctan2(positions_a[:, 1], positions_a[:, 0])
    )


def _ragged(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Owner and local index of every element of ragged blocks of ``counts`` elements."""
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    local = np.arange(int(counts.sum()), dtype=np.int64) - starts[owner]
    return owner, local


@dataclass(frozen=True, eq=False)
class ModuleMap:
    """Connected modules. ``modules`` ``(M,)``: sorted :func:`module_keys`; ``pairs``
    ``(P, 2)`` and ``triplets`` ``(T, 3)``: rows of indices into ``modules`` (inner to
    outer along the track), unique and sorted; per pair ``pair_count`` (how many true hit
    pairs), ``dphi_low``/``dphi_high`` (observed azimuth step, rad) and ``z0_low``/
    ``z0_high`` (observed ``z0``, mm; nan when never defined). ``meta``: provenance."""

    modules: np.ndarray
    pairs: np.ndarray
    triplets: np.ndarray
    pair_count: np.ndarray
    dphi_low: np.ndarray
    dphi_high: np.ndarray
    z0_low: np.ndarray
    z0_high: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    _third_layer_masks: dict[tuple[tuple[int, int], ...], np.ndarray] = field(
        default_factory=dict, init=False, repr=False
    )

    @property
    def n_modules(self) -> int:
        return len(self.modules)

    @property
    def n_pairs(self) -> int:
        return len(self.pairs)

    @property
    def n_triplets(self) -> int:
        return len(self.triplets)

    # ------------------------------------------------------------------ lookups
    def module_index(self, keys: np.ndarray) -> np.ndarray:
        """Index into ``modules`` of every key, -1 for a module the map does not hold."""
        keys = np.asarray(keys, dtype=np.int64)
        pos = np.searchsorted(self.modules, keys)
        clipped = np.minimum(pos, max(self.n_modules - 1, 0))
        if self.n_modules == 0:
            return np.full(keys.shape, -1, dtype=np.int64)
        found = (pos < self.n_modules) & (self.modules[clipped] == keys)
        return np.where(found, pos, -1).astype(np.int64)

    def _codes(self, rows: np.ndarray) -> np.ndarray:
        code = np.zeros(len(rows), dtype=np.int64)
        for column in range(rows.shape[1]):
            code = code * self.n_modules + rows[:, column]
        return code

    def _find(self, table: np.ndarray, rows: np.ndarray) -> np.ndarray:
        if len(table) == 0 or len(rows) == 0:
            return np.full(len(rows), -1, dtype=np.int64)
        codes = self._codes(table)  # sorted: the table's rows are lexicographic
        valid = (rows >= 0).all(axis=1)
        query = self._codes(np.where(rows >= 0, rows, 0))
        pos = np.searchsorted(codes, query)
        clipped = np.minimum(pos, len(codes) - 1)
        return np.where(valid & (codes[clipped] == query), clipped, -1).astype(np.int64)

    def pair_index(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Row of ``pairs`` of module indices ``(a, b)`` (-1: not connected; -1 inputs too)."""
        return self._find(self.pairs, np.column_stack([a, b]).astype(np.int64).reshape(-1, 2))

    def successors(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every module that the map connects after each of the module indices ``a``:
        flat ``(owner, module)``, ``owner`` the position in ``a`` (-1 inputs have none)."""
        owner, row = self.successor_pairs(a)
        return owner, self.pairs[row, 1]

    def successor_pairs(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`successors`, but the rows of ``pairs`` that connect each of ``a`` on:
        flat ``(owner, pair row)``."""
        a = np.asarray(a, dtype=np.int64).reshape(-1)
        inner = self.pairs[:, 0]  # sorted: the rows are lexicographic
        valid = a >= 0
        lo = np.where(valid, np.searchsorted(inner, a, side="left"), 0)
        hi = np.where(valid, np.searchsorted(inner, a, side="right"), 0)
        owner, local = _ragged(hi - lo)
        return owner, lo[owner] + local

    def pair_third_layers(self, layers: Sequence[tuple[int, int]]) -> np.ndarray:
        """A bit mask (uint64) per row of ``pairs``: bit ``i`` is set when some module on
        layer ``layers[i]`` (``(volume_id, layer_id)``, at most 64) continues the pair in a
        connected triplet. Computed once per map and ``layers``."""
        wanted_layers = tuple((int(v), int(layer)) for v, layer in layers)
        if len(wanted_layers) > 64:
            raise ValueError(f"pair_third_layers takes at most 64 layers, got {len(layers)}")
        cached = self._third_layer_masks.get(wanted_layers)
        if cached is not None:
            return cached
        out = np.zeros(self.n_pairs, dtype=np.uint64)
        if self.n_triplets and self.n_pairs and wanted_layers:
            wanted = np.array([(v << _ID_BITS) | lay for v, lay in wanted_layers], np.int64)
            order = np.argsort(wanted, kind="stable")
            layer_of_c = self.modules[self.triplets[:, 2]] >> _ID_BITS  # volume, layer bits
            at = np.minimum(np.searchsorted(wanted[order], layer_of_c), len(wanted) - 1)
            on = wanted[order][at] == layer_of_c
            bits = np.where(on, np.left_shift(np.uint64(1), order[at].astype(np.uint64)), 0)
            row = self.pair_index(self.triplets[:, 0], self.triplets[:, 1])
            known = row >= 0  # always, for a map built from tracks
            np.bitwise_or.at(out, row[known], bits[known].astype(np.uint64))
        self._third_layer_masks[wanted_layers] = out
        return out

    def has_triplet(self, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Whether module indices ``(a, b, c)`` form a connected triplet."""
        rows = np.column_stack([a, b, c]).astype(np.int64).reshape(-1, 3)
        found: np.ndarray = self._find(self.triplets, rows) >= 0
        return found

    # ------------------------------------------------------------------ building
    @classmethod
    def from_tracks(
        cls,
        tracks: TrackSet,
        *,
        volumes: Iterable[int] | None = None,
        min_pt_gev: float | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> ModuleMap:
        """The map of the consecutive hits of ``tracks`` (vectorised over hits).

        ``volumes``: keep only connections whose modules all lie in these volumes (the
        connections are found on the whole tracks first, so no false ones appear where a
        track leaves and re-enters them); ``min_pt_gev``: only tracks of at least this pT.
        """
        if min_pt_gev is not None:
            tracks = tracks.take(np.flatnonzero(tracks.pt >= min_pt_gev))
        coords = np.asarray(tracks.coords, dtype=np.float64)
        volume = np.asarray(tracks.volume_id, dtype=np.int64)
        layer = np.asarray(tracks.layer_id, dtype=np.int64)
        keys = module_keys(volume, layer, tracks.module_id)
        track = tracks.track_index()
        layer_key = (volume << _ID_BITS) | layer
        # Layer groups: runs of consecutive hits of one track on one layer.
        new_group = np.ones(len(keys), dtype=bool)
        new_group[1:] = (track[1:] != track[:-1]) | (layer_key[1:] != layer_key[:-1])
        group_start = np.flatnonzero(new_group)
        group_size = np.diff(np.append(group_start, len(keys)))
        group_track = track[group_start]

        def spans(width: int) -> tuple[np.ndarray, ...]:
            """Hit rows of every combination across ``width`` consecutive groups of a track."""
            if len(group_start) < width:
                return tuple(np.zeros(0, dtype=np.int64) for _ in range(width))
            g = np.arange(len(group_start) - width + 1)
            same = np.ones(len(g), dtype=bool)
            for k in range(1, width):
                same &= group_track[g + k] == group_track[g]
            g = g[same]
            sizes = [group_size[g + k] for k in range(width)]
            owner, local = _ragged(np.prod(np.column_stack(sizes), axis=1))
            rows: list[np.ndarray] = []
            for k in range(width - 1, -1, -1):
                size = sizes[k][owner]
                rows.append(group_start[g[owner] + k] + local % size)
                local = local // size
            return tuple(reversed(rows))

        pa, pb = spans(2)
        ta, tb, tc = spans(3)
        if volumes is not None:
            allowed = np.asarray(sorted({int(v) for v in volumes}), dtype=np.int64)
            inside = np.isin(volume, allowed)
            keep = inside[pa] & inside[pb]
            pa, pb = pa[keep], pb[keep]
            keep = inside[ta] & inside[tb] & inside[tc]
            ta, tb, tc = ta[keep], tb[keep], tc[keep]
        modules = np.unique(np.concatenate([keys[pa], keys[pb], keys[ta], keys[tb], keys[tc]]))
        index = np.searchsorted(modules, keys)
        pair_rows, inverse = np.unique(
            np.column_stack([index[pa], index[pb]]).reshape(-1, 2), axis=0, return_inverse=True
        )
        inverse = inverse.reshape(-1)
        n_pairs = len(pair_rows)
        dphi = pair_dphi(coords[pa], coords[pb])
        z0 = pair_z0(coords[pa], coords[pb])
        dphi_low, dphi_high = np.full(n_pairs, np.inf), np.full(n_pairs, -np.inf)
        np.minimum.at(dphi_low, inverse, dphi)
        np.maximum.at(dphi_high, inverse, dphi)
        z0_low, z0_high = np.full(n_pairs, np.inf), np.full(n_pairs, -np.inf)
        defined = np.isfinite(z0)
        np.minimum.at(z0_low, inverse[defined], z0[defined])
        np.maximum.at(z0_high, inverse[defined], z0[defined])
        never = z0_low > z0_high
        z0_low[never], z0_high[never] = np.nan, np.nan
        triplet_rows = np.unique(
            np.column_stack([index[ta], index[tb], index[tc]]).reshape(-1, 3), axis=0
        )
        return cls(
            modules=modules.astype(np.int64),
            pairs=pair_rows.astype(np.int64).reshape(-1, 2),
            triplets=triplet_rows.astype(np.int64).reshape(-1, 3),
            pair_count=np.bincount(inverse, minlength=n_pairs).astype(np.int64),
            dphi_low=dphi_low,
            dphi_high=dphi_high,
            z0_low=z0_low,
            z0_high=z0_high,
            meta=dict(meta or {}),
        )

    @classmethod
    def merge(cls, maps: Sequence[ModuleMap], meta: Mapping[str, Any] | None = None) -> ModuleMap:
        """One map holding every connection of ``maps``: counts added, windows joined."""
        modules = np.unique(np.concatenate([m.modules for m in maps]))
        remapped = [np.searchsorted(modules, m.modules) for m in maps]
        pairs = np.concatenate([r[m.pairs] for r, m in zip(remapped, maps, strict=True)])
        rows, inverse = np.unique(pairs.reshape(-1, 2), axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        n = len(rows)

        def joined(name: str, reduce: np.ufunc, start: float) -> np.ndarray:
            out = np.full(n, start)
            values = np.concatenate([getattr(m, name) for m in maps])
            defined = ~np.isnan(values)
            reduce.at(out, inverse[defined], values[defined])
            out[~np.isfinite(out)] = np.nan
            return out

        triplets = np.concatenate([r[m.triplets] for r, m in zip(remapped, maps, strict=True)])
        return cls(
            modules=modules.astype(np.int64),
            pairs=rows.astype(np.int64).reshape(-1, 2),
            triplets=np.unique(triplets.reshape(-1, 3), axis=0).astype(np.int64).reshape(-1, 3),
            pair_count=np.bincount(
                inverse, weights=np.concatenate([m.pair_count for m in maps]), minlength=n
            ).astype(np.int64),
            dphi_low=joined("dphi_low", np.minimum, np.inf),
            dphi_high=joined("dphi_high", np.maximum, -np.inf),
            z0_low=joined("z0_low", np.minimum, np.inf),
            z0_high=joined("z0_high", np.maximum, -np.inf),
            meta=dict(meta or {}),
        )

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the map to ``path`` (``.npz``, atomically); return the path."""
        target = Path(path)
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        with atomic_path(target) as temp, open(temp, "wb") as handle:
            np.savez_compressed(
                handle,
                version=np.int64(MODULE_MAP_FORMAT_VERSION),
                meta=np.array(json.dumps(self.meta, sort_keys=True)),
                **arrays,
            )
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ModuleMap:
        """Read a map saved by :meth:`save`; a missing, unreadable or other-version file is
        one :class:`~tracknet.errors.DataError`."""
        source = Path(path)
        content = read_npz(source, "module map")
        if "version" not in content:
            raise DataError("not a module map file (no version)", file=str(source))
        try:
            version = int(np.asarray(content["version"]).reshape(-1)[0])
        except (TypeError, ValueError, IndexError):
            raise DataError("not a module map file (bad version)", file=str(source)) from None
        if version != MODULE_MAP_FORMAT_VERSION:
            raise DataError(
                f"module map format version {version}, this TrackNET reads version "
                f"{MODULE_MAP_FORMAT_VERSION}: rebuild it with `tracknet module-map`",
                file=str(source),
            )
        missing = [name for name in (*_ARRAYS, "meta") if name not in content]
        if missing:
            raise DataError(f"module map lacks array(s) {missing}", file=str(source))
        try:
            loaded = cls(
                **{name: content[name] for name in _ARRAYS},
                meta=json.loads(str(content["meta"])),
            )
        except (TypeError, ValueError) as exc:  # a damaged meta record or array
            raise DataError(f"bad module map: {exc}", file=str(source)) from None
        loaded._check(source)
        return loaded

    def _check(self, source: Path) -> None:
        m, p = self.n_modules, self.n_pairs
        shapes_ok = (
            self.modules.ndim == 1
            and self.pairs.shape == (p, 2)
            and self.triplets.ndim == 2
            and self.triplets.shape[1] == 3
            and all(getattr(self, n).shape == (p,) for n in _ARRAYS[3:])
        )
        if not shapes_ok:
            raise DataError("module map arrays have inconsistent shapes", file=str(source))
        for table in (self.pairs, self.triplets):
            if table.size and (table.min() < 0 or table.max() >= m):
                raise DataError("module map connections name unknown modules", file=str(source))
        if np.any(np.diff(self.modules) <= 0):
            raise DataError("module map modules are not sorted and unique", file=str(source))


def build_module_map(
    events: Iterable[Event],
    *,
    volumes: Iterable[int] | None = None,
    min_pt_gev: float | None = None,
    meta: Mapping[str, Any] | None = None,
    chunk: int = 20,
) -> ModuleMap:
    """The module map of the true tracks of ``events`` (each needs truth and particles).

    Events are read one at a time and mapped ``chunk`` at a time; the chunk maps are
    merged (:meth:`ModuleMap.merge`), so memory follows the map, not the events."""
    wanted = None if volumes is None else sorted({int(v) for v in volumes})
    maps: list[ModuleMap] = []
    pending: list[TrackSet] = []
    event_ids: list[int] = []

    def flush() -> None:
        if pending:
            maps.append(
                ModuleMap.from_tracks(
                    TrackSet.concatenate(pending), volumes=wanted, min_pt_gev=min_pt_gev
                )
            )
            pending.clear()
            if len(maps) > 1:
                maps[:] = [ModuleMap.merge(maps)]

    for event in events:
        pending.append(event_tracks(event))
        event_ids.append(int(event.event_id))
        if len(pending) >= chunk:
            flush()
    flush()
    if not maps:
        raise DataError("no events to build a module map from")
    info = dict(meta or {})
    info.setdefault("event_ids", event_ids)
    info.update(volumes=wanted, min_pt_gev=min_pt_gev, n_events=len(event_ids))
    return dataclasses.replace(maps[0], meta=info)


@lru_cache(maxsize=4)
def _cached(path: str, mtime_ns: int, size: int) -> ModuleMap:
    return ModuleMap.load(path)


def load_module_map(path: str | os.PathLike[str]) -> ModuleMap:
    """:meth:`ModuleMap.load`, cached while the file is unchanged (a build reads it once)."""
    source = Path(path)
    try:
        stat = source.stat()
    except OSError:
        raise DataError("module map not found", file=str(source)) from None
    return _cached(str(source.resolve()), stat.st_mtime_ns, stat.st_size)
