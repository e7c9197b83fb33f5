"""Many straw events as flat column arrays: the fast form of straw data.

A :class:`StrawBatch` holds the ``events`` (:data:`EVENT_COLUMNS`), ``hits``
(:data:`HIT_COLUMNS`) and ``particles`` (:data:`PARTICLE_COLUMNS`) of many events as numpy
columns, each with ``event_id``; :meth:`StrawBatch.event`, :meth:`StrawBatch.iter_events`
and :meth:`StrawBatch.from_events` convert to and from the one event model.

See ``docs/simulation.md`` (The event and reproducibility).
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tracknet.errors import DataError
from tracknet.events import (
    HITS_SCHEMA,
    PARTICLES_SCHEMA,
    TRUTH_SCHEMA,
    UNLABELLED_PARTICLE_ID,
    Event,
)

__all__ = [
    "DETECTOR",
    "EVENT_COLUMNS",
    "HIT_COLUMNS",
    "PARTICLE_COLUMNS",
    "STRAW_HIT_EXTRA",
    "StrawBatch",
    "rechunk",
]

DETECTOR = "straw"
#: Extra hit columns of a straw event (beside :data:`~tracknet.events.HITS_SCHEMA`).
STRAW_HIT_EXTRA: dict[str, np.dtype] = {
    "straw_id": np.dtype("int32"),
    "drift_mm": np.dtype("float64"),
}
EVENT_COLUMNS: dict[str, np.dtype] = {
    "event_id": np.dtype("int64"),
    "n_tracks": np.dtype("int32"),
    "time_in_fill_us": np.dtype("float64"),
}
HIT_COLUMNS: dict[str, np.dtype] = {
    "event_id": np.dtype("int64"),
    **HITS_SCHEMA,
    **STRAW_HIT_EXTRA,
    **{k: v for k, v in TRUTH_SCHEMA.items() if k != "hit_id"},
}
PARTICLE_COLUMNS: dict[str, np.dtype] = {"event_id": np.dtype("int64"), **PARTICLES_SCHEMA}

_TABLES = {"events": EVENT_COLUMNS, "hits": HIT_COLUMNS, "particles": PARTICLE_COLUMNS}
_FINITE = {
    "hits": ("x", "y", "z", "drift_mm", "tx", "ty", "tz", "tpx", "tpy", "tpz", "weight"),
    "particles": ("vx", "vy", "vz", "px", "py", "pz"),
}


def _sorted_pairs(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Row positions where ``(outer, inner)`` does not strictly increase."""
    if len(outer) < 2:
        return np.zeros(0, dtype=np.int64)
    d_outer = np.diff(outer)
    bad = (d_outer < 0) | ((d_outer == 0) & (np.diff(inner) <= 0))
    return np.flatnonzero(bad) + 1


@dataclass(frozen=True)
class StrawBatch:
    """Flat tables of a batch of straw events (see ``docs/simulation.md``).

    ``meta`` holds plain facts shared by every event of the batch (``kind`` of data, for
    instance); each event's :attr:`~tracknet.events.Event.meta` gets them together with
    ``detector``, ``n_tracks`` and ``time_in_fill_us``.
    """

    events: dict[str, np.ndarray]
    hits: dict[str, np.ndarray]
    particles: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_columns(
        cls,
        events: Mapping[str, Any],
        hits: Mapping[str, Any],
        particles: Mapping[str, Any],
        meta: Mapping[str, Any] | None = None,
        *,
        validate: bool = True,
    ) -> StrawBatch:
        """A batch of the given columns, cast to their dtypes (and checked)."""
        tables: dict[str, dict[str, np.ndarray]] = {}
        for name, given in (("events", events), ("hits", hits), ("particles", particles)):
            schema = _TABLES[name]
            missing = [c for c in schema if c not in given]
            if missing:
                raise DataError(f"straw {name} table lacks column(s) {missing}")
            tables[name] = {
                c: np.ascontiguousarray(np.asarray(given[c]).astype(schema[c], copy=False))
                for c in schema
            }
        batch = cls(tables["events"], tables["hits"], tables["particles"], dict(meta or {}))
        if validate:
            batch.validate()
        return batch

    @classmethod
    def empty(cls, meta: Mapping[str, Any] | None = None) -> StrawBatch:
        zero = {
            name: {c: np.zeros(0, dtype=t) for c, t in schema.items()}
            for name, schema in _TABLES.items()
        }
        return cls(zero["events"], zero["hits"], zero["particles"], dict(meta or {}))

    @classmethod
    def concat(cls, batches: Iterable[StrawBatch]) -> StrawBatch:
        """The batches one after the other (event ids must keep increasing)."""
        items = list(batches)
        if not items:
            return cls.empty()
        out = {
            name: {c: np.concatenate([getattr(b, name)[c] for b in items]) for c in schema}
            for name, schema in _TABLES.items()
        }
        batch = cls(out["events"], out["hits"], out["particles"], dict(items[0].meta))
        if np.any(np.diff(batch.events["event_id"]) <= 0):
            raise DataError("concatenated straw batches must have increasing event ids")
        return batch

    @classmethod
    def from_events(
        cls, events: Iterable[Event], meta: Mapping[str, Any] | None = None
    ) -> StrawBatch:
        """A batch of straw :class:`~tracknet.events.Event` objects with truth and particles."""
        ev_rows: dict[str, list[Any]] = {c: [] for c in EVENT_COLUMNS}
        hit_frames: list[pd.DataFrame] = []
        particle_frames: list[pd.DataFrame] = []
        for event in events:
            if event.truth is None or event.particles is None:
                raise DataError(
                    f"{event.prefix}: a straw event needs truth and particles to be stored"
                )
            missing = [c for c in (*HITS_SCHEMA, *STRAW_HIT_EXTRA) if c not in event.hits.columns]
            if missing:
                raise DataError(f"{event.prefix}: straw hits lack column(s) {missing}")
            if len(event.truth) != len(event.hits):
                raise DataError(
                    f"{event.prefix}: truth has {len(event.truth)} rows for {len(event.hits)} hits"
                )
            if "hit_id" in event.truth.columns and not np.array_equal(
                event.truth["hit_id"].to_numpy(), event.hits["hit_id"].to_numpy()
            ):
                raise DataError(
                    f"{event.prefix}: truth rows are not in the order of the hits", column="hit_id"
                )
            time = event.meta.get("time_in_fill_us")
            ev_rows["event_id"].append(event.event_id)
            ev_rows["n_tracks"].append(int(event.meta.get("n_tracks", len(event.particles))))
            ev_rows["time_in_fill_us"].append(math.nan if time is None else float(time))
            frame = pd.concat(
                [
                    event.hits[[*HITS_SCHEMA, *STRAW_HIT_EXTRA]].reset_index(drop=True),
                    event.truth[[c for c in TRUTH_SCHEMA if c != "hit_id"]].reset_index(drop=True),
                ],
                axis=1,
            )
            frame.insert(0, "event_id", event.event_id)
            hit_frames.append(frame.sort_values("hit_id", kind="stable"))
            parts = event.particles[list(PARTICLES_SCHEMA)].copy()
            parts.insert(0, "event_id", event.event_id)
            particle_frames.append(parts.sort_values("particle_id", kind="stable"))
        if not ev_rows["event_id"]:
            return cls.empty(meta)
        order = np.argsort(np.asarray(ev_rows["event_id"]), kind="stable")
        events_cols = {c: np.asarray(v)[order] for c, v in ev_rows.items()}
        hits_all = pd.concat(hit_frames, ignore_index=True).sort_values(
            ["event_id", "hit_id"], kind="stable"
        )
        parts_all = pd.concat(particle_frames, ignore_index=True).sort_values(
            ["event_id", "particle_id"], kind="stable"
        )
        return cls.from_columns(
            events_cols,
            {c: hits_all[c].to_numpy() for c in HIT_COLUMNS},
            {c: parts_all[c].to_numpy() for c in PARTICLE_COLUMNS},
            meta,
        )

    # ------------------------------------------------------------------ checks

    def validate(self, where: str | None = None) -> StrawBatch:
        """Raise :class:`DataError` (one line; ``where`` names the file) when the tables
        break their columns, dtypes or sort orders (see ``docs/simulation.md``)."""
        for name, schema in _TABLES.items():
            table = getattr(self, name)
            lengths = {len(table[c]) for c in schema}
            if len(lengths) > 1:
                raise DataError(f"straw {name} columns differ in length", file=where)
            for column, dtype in schema.items():
                if table[column].dtype != dtype:
                    raise DataError(
                        f"straw {name}: expected {dtype}, found {table[column].dtype}",
                        file=where,
                        column=column,
                    )
            for column in _FINITE.get(name, ()):
                bad = ~np.isfinite(table[column])
                if bad.any():
                    row = int(np.flatnonzero(bad)[0])
                    raise DataError(
                        f"straw {name}: non-finite value {table[column][row]}",
                        file=where,
                        column=column,
                        row=row,
                    )
        ev = self.events["event_id"]
        if len(ev) > 1 and np.any(np.diff(ev) <= 0):
            row = int(np.flatnonzero(np.diff(ev) <= 0)[0]) + 1
            raise DataError(
                f"straw events: event_id {ev[row]} repeats or is out of order",
                file=where,
                column="event_id",
                row=row,
            )
        for name, inner in (("hits", "hit_id"), ("particles", "particle_id")):
            table = getattr(self, name)
            bad = _sorted_pairs(table["event_id"], table[inner])
            if len(bad):
                row = int(bad[0])
                raise DataError(
                    f"straw {name}: ({table['event_id'][row]}, {table[inner][row]}) "
                    "repeats or is out of order "
                    f"(rows must be sorted by event_id, {inner})",
                    file=where,
                    column=inner,
                    row=row,
                )
            unknown = ~np.isin(table["event_id"], ev)
            if unknown.any():
                row = int(np.flatnonzero(unknown)[0])
                raise DataError(
                    f"straw {name}: event_id {table['event_id'][row]} is not in the events table",
                    file=where,
                    column="event_id",
                    row=row,
                )
        hits = self.hits
        if len(hits["hit_id"]) and hits["hit_id"].min() < 1:
            row = int(np.flatnonzero(hits["hit_id"] < 1)[0])
            raise DataError(
                f"straw hits: hit_id {hits['hit_id'][row]} must be positive",
                file=where,
                column="hit_id",
                row=row,
            )
        if len(hits["z"]) and np.any(hits["z"] != 0):
            row = int(np.flatnonzero(hits["z"] != 0)[0])
            raise DataError(
                "straw hits: z must be 0 in the 2D model", file=where, column="z", row=row
            )
        pid = hits["particle_id"]
        labelled = pid > 0
        if labelled.any():
            key_hits = hits["event_id"][labelled].astype(np.int64) * (1 << 31) + pid[labelled]
            key_parts = self.particles["event_id"] * (1 << 31) + self.particles["particle_id"]
            missing = ~np.isin(key_hits, key_parts)
            if missing.any():
                row = int(np.flatnonzero(labelled)[np.flatnonzero(missing)[0]])
                raise DataError(
                    f"straw hits: particle_id {pid[row]} of event {hits['event_id'][row]} "
                    "is not in the particles table",
                    file=where,
                    column="particle_id",
                    row=row,
                )
        if len(self.particles["particle_id"]) and self.particles["particle_id"].min() < 1:
            row = int(np.flatnonzero(self.particles["particle_id"] < 1)[0])
            raise DataError(
                "straw particles: particle_id must be positive",
                file=where,
                column="particle_id",
                row=row,
            )
        return self

    # ------------------------------------------------------------------ access

    def __len__(self) -> int:
        return len(self.events["event_id"])

    @property
    def n_hits(self) -> int:
        return len(self.hits["event_id"])

    @property
    def event_ids(self) -> np.ndarray:
        return self.events["event_id"]

    def _bounds(self, table: str) -> tuple[np.ndarray, np.ndarray]:
        ids = getattr(self, table)["event_id"]
        ev = self.events["event_id"]
        return np.searchsorted(ids, ev, side="left"), np.searchsorted(ids, ev, side="right")

    def take(self, rows: np.ndarray) -> StrawBatch:
        """The events at the given (increasing) row positions of the events table."""
        rows = np.asarray(rows, dtype=np.int64)
        hit_lo, hit_hi = self._bounds("hits")
        par_lo, par_hi = self._bounds("particles")

        def gather(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
            count = hi[rows] - lo[rows]
            starts = np.cumsum(count) - count
            return np.repeat(lo[rows] - starts, count) + np.arange(int(count.sum()))

        h = gather(hit_lo, hit_hi)
        p = gather(par_lo, par_hi)
        return StrawBatch(
            {c: v[rows] for c, v in self.events.items()},
            {c: v[h] for c, v in self.hits.items()},
            {c: v[p] for c, v in self.particles.items()},
            dict(self.meta),
        )

    def without_labels(self) -> StrawBatch:
        """The events as the experiment records them (production events): each hit keeps
        its ids, straw, drift and design position; its particle becomes
        :data:`~tracknet.events.UNLABELLED_PARTICLE_ID`, its true point the straw's
        position, its momentum and weight zero; no particles; ``n_tracks`` -1 (unknown)."""
        hits = dict(self.hits)
        n = len(hits["event_id"])
        hits["particle_id"] = np.full(n, UNLABELLED_PARTICLE_ID, dtype=np.int64)
        for true, measured in (("tx", "x"), ("ty", "y"), ("tz", "z")):
            hits[true] = hits[measured].copy()
        for column in ("tpx", "tpy", "tpz", "weight"):
            hits[column] = np.zeros(n)
        events = {**self.events, "n_tracks": np.full(len(self), -1, dtype=np.int32)}
        particles = {c: np.zeros(0, dtype=t) for c, t in PARTICLE_COLUMNS.items()}
        return StrawBatch(events, hits, particles, {**self.meta, "labelled": False})

    def slice(self, start: int, stop: int) -> StrawBatch:
        """Events ``start:stop`` (row positions)."""
        return self.take(np.arange(len(self))[start:stop])

    def event(self, row: int) -> Event:
        """The event at row ``row`` of the events table, as an :class:`Event`."""
        n = len(self)
        if not -n <= row < n:
            raise IndexError(f"event row {row} out of range for a batch of {n} events")
        row %= n
        ev = self.events["event_id"]
        lo, hi = (
            np.searchsorted(self.hits["event_id"], ev[row], "left"),
            np.searchsorted(self.hits["event_id"], ev[row], "right"),
        )
        plo, phi = (
            np.searchsorted(self.particles["event_id"], ev[row], "left"),
            np.searchsorted(self.particles["event_id"], ev[row], "right"),
        )
        return self._event(row, slice(lo, hi), slice(plo, phi))

    # builtins.slice: in the class body ``slice`` names the method above.
    def _event(self, row: int, hits: builtins.slice, particles: builtins.slice) -> Event:
        h = self.hits
        hit_frame = pd.DataFrame(
            {c: h[c][hits] for c in (*HITS_SCHEMA, *STRAW_HIT_EXTRA)}, copy=True
        )
        truth = pd.DataFrame(
            {"hit_id": h["hit_id"][hits], **{c: h[c][hits] for c in TRUTH_SCHEMA if c != "hit_id"}},
            copy=True,
        )
        parts = pd.DataFrame({c: self.particles[c][particles] for c in PARTICLES_SCHEMA}, copy=True)
        time = float(self.events["time_in_fill_us"][row])
        meta = {
            **self.meta,
            "detector": DETECTOR,
            "time_in_fill_us": None if math.isnan(time) else time,
            "n_tracks": int(self.events["n_tracks"][row]),
        }
        return Event(
            event_id=int(self.events["event_id"][row]),
            hits=hit_frame,
            truth=truth,
            particles=parts,
            meta=meta,
        )

    def iter_events(self) -> Iterator[Event]:
        """The events one after the other, as :class:`Event` objects."""
        hit_lo, hit_hi = self._bounds("hits")
        par_lo, par_hi = self._bounds("particles")
        for row in range(len(self)):
            yield self._event(row, slice(hit_lo[row], hit_hi[row]), slice(par_lo[row], par_hi[row]))

    def to_events(self) -> list[Event]:
        return list(self.iter_events())

    def hit_counts(self) -> np.ndarray:
        """Hits per event, in the order of the events table."""
        lo, hi = self._bounds("hits")
        counts: np.ndarray = hi - lo
        return counts


def rechunk(batches: Iterable[StrawBatch], events_per_batch: int) -> Iterator[StrawBatch]:
    """Regroup consecutive batches into batches of ``events_per_batch`` events (the last
    may be shorter); empty batches are skipped."""
    pending: list[StrawBatch] = []
    pending_n = 0
    for batch in batches:
        if not len(batch):
            continue
        pending.append(batch)
        pending_n += len(batch)
        while pending_n >= events_per_batch:
            merged = StrawBatch.concat(pending) if len(pending) > 1 else pending[0]
            yield merged.slice(0, events_per_batch) if len(merged) > events_per_batch else merged
            rest = (
                merged.slice(events_per_batch, len(merged))
                if len(merged) > events_per_batch
                else None
            )
            pending, pending_n = ([rest], len(rest)) if rest is not None else ([], 0)
    if pending_n:
        yield StrawBatch.concat(pending) if len(pending) > 1 else pending[0]
