"""Synthetic and semi-synthetic events: library tracks overlaid ``k`` at a time.

Synthetic events hold ``k`` distinct library tracks (relabelled, the straw response
applied again); semi-synthetic ones add them to a background event whose own hits stay
unchanged and unlabelled. Every overlaid track is listed in a provenance table
(:data:`PROVENANCE_COLUMNS`). See ``docs/augmentation.md``.
"""

from __future__ import annotations

import os
from collections.abc import Container, Iterator
from typing import NamedTuple

import numpy as np
import pandas as pd

from tracknet.augment.library import TrackLibrary
from tracknet.errors import ConfigError, DataError
from tracknet.evaluation.weights import compute_hit_weights
from tracknet.events import (
    HITS_SCHEMA,
    MAX_EVENT_ID,
    PARTICLES_SCHEMA,
    TRUTH_SCHEMA,
    UNLABELLED_PARTICLE_ID,
    Event,
)
from tracknet.io.event_files import EVENT_FILES
from tracknet.io.trackml import list_events, read_event
from tracknet.simulation.straw.batch import StrawBatch, rechunk
from tracknet.simulation.straw.geometry import StrawGeometry
from tracknet.simulation.straw.response import (
    PRIORITY_BACKGROUND,
    PRIORITY_TRACK,
    SignalHits,
    StrawResponse,
    detector_hits,
)
from tracknet.simulation.straw.simulate import BLOCK_EVENTS, assemble_batch

__all__ = [
    "NO_BACKGROUND",
    "OVERLAY_TAG",
    "PROVENANCE_COLUMNS",
    "SINGLES_TAG",
    "TRACKML_TAG",
    "check_overlay",
    "choose_entries",
    "iter_straw_overlay",
    "iter_trackml_overlay",
    "straw_overlay_block",
    "trackml_overlay_event",
]

OVERLAY_TAG = 0x4F56524C4159  # "OVRLAY"
SINGLES_TAG = 0x53494E474C45  # "SINGLE"
TRACKML_TAG = 0x544D4C4F5652  # "TMLOVR"
PROVENANCE_COLUMNS: tuple[str, ...] = (
    "event_id",
    "particle_id",
    "source_event_id",
    "source_particle_id",
    "background_event_id",
)
NO_BACKGROUND = -1


class _Streams(NamedTuple):
    choice: np.random.Generator
    crosstalk: np.random.Generator
    noise: np.random.Generator


def _streams(seed: int, tag: int, key: int) -> _Streams:
    children = np.random.SeedSequence([int(seed), int(tag), int(key)]).spawn(3)
    return _Streams(*(np.random.default_rng(c) for c in children))


def choose_entries(n_library: int, n_events: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_events, k)`` library entries, distinct within each row, uniformly drawn.

    Rows with a repeated entry are redrawn as a whole (rejection), which keeps every
    ``k``-subset equally likely; when ``k`` is a large share of the library each row is
    instead the first ``k`` of a random permutation.
    """
    if k < 1:
        raise ConfigError(f"tracks per event must be >= 1, got {k}")
    if k > n_library:
        raise ConfigError(
            f"the track library holds {n_library} track(s), "
            f"fewer than the {k} tracks per event asked for"
        )
    if 4 * k > n_library:
        keys = rng.random((n_events, n_library))
        return np.argsort(keys, axis=1)[:, :k].astype(np.int64)
    choice = rng.integers(0, n_library, size=(n_events, k))
    while True:
        ordered = np.sort(choice, axis=1)
        repeated = np.any(ordered[:, 1:] == ordered[:, :-1], axis=1)
        if not repeated.any():
            return choice.astype(np.int64)
        choice[repeated] = rng.integers(0, n_library, size=(int(repeated.sum()), k))


def _provenance(
    event_ids: np.ndarray,
    entries: np.ndarray,
    library: TrackLibrary,
    background_ids: np.ndarray | None,
) -> pd.DataFrame:
    n, k = entries.shape
    flat = entries.ravel()
    return pd.DataFrame(
        {
            "event_id": np.repeat(np.asarray(event_ids, dtype=np.int64), k),
            "particle_id": np.tile(np.arange(1, k + 1, dtype=np.int64), n),
            "source_event_id": library.entries["source_event_id"][flat],
            "source_particle_id": library.entries["source_particle_id"][flat],
            "background_event_id": np.repeat(background_ids, k)
            if background_ids is not None
            else np.full(n * k, NO_BACKGROUND),
        }
    )


# --------------------------------------------------------------------------- straw


def straw_overlay_block(
    library: TrackLibrary,
    entries: np.ndarray,
    event_ids: np.ndarray,
    response: StrawResponse,
    rng_crosstalk: np.random.Generator,
    rng_noise: np.random.Generator,
    *,
    background: StrawBatch | None = None,
    background_rows: np.ndarray | None = None,
) -> tuple[StrawBatch, pd.DataFrame]:
    """The straw events of one block: ``entries[i]`` overlaid into event ``event_ids[i]``
    (on background event row ``background_rows[i]`` when a background is given)."""
    geometry = library.geometry or StrawGeometry()
    n, k = entries.shape
    rows, which = library.gather(entries.ravel())
    lib = library.hits
    parts = [
        SignalHits(
            event=which // k,
            straw_id=lib["straw_id"][rows].astype(np.int64),
            drift=lib["drift_mm"][rows],
            particle_id=(which % k + 1).astype(np.int64),
            tx=lib["tx"][rows],
            ty=lib["ty"][rows],
            tpx=lib["tpx"][rows],
            tpy=lib["tpy"][rows],
        )
    ]
    priority = [np.full(len(rows), PRIORITY_TRACK, dtype=np.int64)]
    times = np.full(n, np.nan)
    background_ids = None
    original_ids = np.zeros(0, dtype=np.int64)
    if background is not None:
        if background_rows is None or len(background_rows) != n:
            raise ConfigError("an overlay on a background needs one background row per event")
        bh = background.hits
        lo = np.searchsorted(bh["event_id"], background.events["event_id"], "left")[background_rows]
        hi = np.searchsorted(bh["event_id"], background.events["event_id"], "right")[
            background_rows
        ]
        count = hi - lo
        b_event = np.repeat(np.arange(n, dtype=np.int64), count)
        b_rows = np.repeat(lo - (np.cumsum(count) - count), count) + np.arange(int(count.sum()))
        parts.insert(
            0,
            SignalHits(
                event=b_event,
                straw_id=bh["straw_id"][b_rows].astype(np.int64),
                drift=bh["drift_mm"][b_rows],
                particle_id=np.full(len(b_rows), UNLABELLED_PARTICLE_ID, dtype=np.int64),
                tx=bh["x"][b_rows],
                ty=bh["y"][b_rows],
                tpx=np.zeros(len(b_rows)),
                tpy=np.zeros(len(b_rows)),
            ),
        )
        priority.insert(0, np.full(len(b_rows), PRIORITY_BACKGROUND, dtype=np.int64))
        original_ids = bh["hit_id"][b_rows]
        times = background.events["time_in_fill_us"][background_rows]
        background_ids = background.events["event_id"][background_rows]
    signal = SignalHits.concat(parts)
    hits, source = detector_hits(
        signal,
        n,
        geometry,
        response,
        rng_crosstalk,
        rng_noise,
        signal_priority=np.concatenate(priority),
        with_signal_rows=True,
    )
    hit_ids = None
    if background is not None:
        n_background = len(original_ids)
        kept = (source >= 0) & (source < n_background)
        top = np.zeros(n, dtype=np.int64)
        if n_background:
            np.maximum.at(top, signal.event[:n_background], original_ids)
        new = np.flatnonzero(~kept)
        new_event = hits.event[new]
        hit_ids = np.empty(len(hits.event), dtype=np.int64)
        hit_ids[kept] = original_ids[source[kept]]
        hit_ids[new] = (
            top[new_event]
            + 1
            + (np.arange(len(new)) - np.searchsorted(new_event, new_event, "left"))
        )
    flat = entries.ravel()
    particles = {
        "event": np.repeat(np.arange(n, dtype=np.int64), k),
        "particle_id": np.tile(np.arange(1, k + 1, dtype=np.int64), n),
        **{c: library.entries[c][flat] for c in ("vx", "vy", "px", "py", "q")},
    }
    kind = "semi-synthetic" if background is not None else "synthetic"
    batch = assemble_batch(
        event_ids, np.full(n, k), times, hits, particles, geometry, {"kind": kind}, hit_ids=hit_ids
    )
    return batch, _provenance(event_ids, entries, library, background_ids)


def check_overlay(
    library: TrackLibrary,
    detector: str,
    *,
    n_events: int,
    tracks_per_event: int,
    first_event_id: int,
    seed: int,
    with_singles: bool,
    has_background: bool,
) -> None:
    """Raise a one-line :class:`ConfigError` / :class:`DataError` for arguments an overlay
    cannot honour (called by the iterators, and before anything is written)."""
    for name, value, low in (
        ("events", n_events, 0),
        ("tracks per event", tracks_per_event, 1),
        ("first event id", first_event_id, 0),
        ("seed", seed, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    if library.detector != detector:
        raise ConfigError(
            f"a {detector} overlay needs a {detector} track library, not a {library.detector} one"
        )
    if len(library) == 0:
        raise DataError(f"no track of {library.source or 'the source'} passes the library criteria")
    if tracks_per_event > len(library):
        raise ConfigError(
            f"the track library holds {len(library)} track(s), "
            f"fewer than the {tracks_per_event} tracks per event asked for"
        )
    if with_singles and has_background:
        raise ConfigError(
            "with singles applies to synthetic overlays, not to overlays on a background"
        )
    last = first_event_id + n_events + (len(library) if with_singles else 0) - 1
    if detector == "trackml" and last > MAX_EVENT_ID:
        raise ConfigError(
            f"the last event id would be {last}, beyond {MAX_EVENT_ID}, the largest a TrackML "
            "file name holds (event<9 digits>): lower the first event id or the events"
        )


def iter_straw_overlay(
    library: TrackLibrary,
    *,
    n_events: int,
    tracks_per_event: int,
    seed: int,
    response: StrawResponse,
    first_event_id: int = 0,
    with_singles: bool = False,
    background: StrawBatch | None = None,
    events_per_batch: int = 10_000,
    provenance: list[pd.DataFrame] | None = None,
) -> Iterator[StrawBatch]:
    """Straw overlay events in batches of ``events_per_batch`` (see the module docstring).

    Events ``first_event_id ..`` hold the overlays; with ``with_singles`` one event per
    library track follows. Provenance tables are appended to ``provenance`` when given.
    """
    check_overlay(
        library,
        "straw",
        n_events=n_events,
        tracks_per_event=tracks_per_event,
        first_event_id=first_event_id,
        seed=seed,
        with_singles=with_singles,
        has_background=background is not None,
    )
    if background is not None and len(background) == 0:
        raise DataError("the background holds no event")
    sink = provenance if provenance is not None else []
    stop = first_event_id + n_events

    def overlay_blocks() -> Iterator[StrawBatch]:
        for block in range(first_event_id // BLOCK_EVENTS, -(-stop // BLOCK_EVENTS)):
            streams = _streams(seed, OVERLAY_TAG, block)
            event_ids = block * BLOCK_EVENTS + np.arange(BLOCK_EVENTS, dtype=np.int64)
            entries = choose_entries(len(library), BLOCK_EVENTS, tracks_per_event, streams.choice)
            rows = None if background is None else event_ids % len(background)
            batch, prov = straw_overlay_block(
                library,
                entries,
                event_ids,
                response,
                streams.crosstalk,
                streams.noise,
                background=background,
                background_rows=rows,
            )
            lo, hi = (
                max(first_event_id - block * BLOCK_EVENTS, 0),
                min(stop - block * BLOCK_EVENTS, BLOCK_EVENTS),
            )
            if (lo, hi) != (0, BLOCK_EVENTS):
                batch = batch.slice(lo, hi)
                prov = prov.loc[prov["event_id"].between(event_ids[lo], event_ids[hi - 1])]
            sink.append(prov)
            yield batch
        if with_singles:
            for block in range(-(-len(library) // BLOCK_EVENTS)):
                streams = _streams(seed, SINGLES_TAG, block)
                entries = np.arange(
                    block * BLOCK_EVENTS,
                    min((block + 1) * BLOCK_EVENTS, len(library)),
                    dtype=np.int64,
                )[:, None]
                event_ids = stop + entries[:, 0]
                batch, prov = straw_overlay_block(
                    library, entries, event_ids, response, streams.crosstalk, streams.noise
                )
                sink.append(prov)
                yield batch

    yield from rechunk(overlay_blocks(), events_per_batch)


# --------------------------------------------------------------------------- TrackML


def _trackml_frames(
    library: TrackLibrary, entries: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Hits (without ids), truth (without ids and weights) and particles of overlaid tracks,
    hits ordered by (volume, layer, module) like the real files."""
    rows, which = library.gather(entries)
    lib = library.hits
    order = np.lexsort(
        (
            np.arange(len(rows)),
            lib["module_id"][rows],
            lib["layer_id"][rows],
            lib["volume_id"][rows],
        )
    )
    rows, which = rows[order], which[order]
    hits = pd.DataFrame(
        {c: lib[c][rows] for c in ("x", "y", "z", "volume_id", "layer_id", "module_id")}
    )
    truth = pd.DataFrame(
        {
            "particle_id": (which + 1).astype(np.int64),
            **{c: lib[c][rows] for c in ("tx", "ty", "tz", "tpx", "tpy", "tpz")},
        }
    )
    particles = pd.DataFrame(
        {
            "particle_id": np.arange(1, len(entries) + 1, dtype=np.int64),
            **{
                c: library.entries[c][entries]
                for c in ("vx", "vy", "vz", "px", "py", "pz", "q", "nhits")
            },
        }
    )
    return hits, truth, particles


def trackml_overlay_event(
    library: TrackLibrary, entries: np.ndarray, event_id: int, background: Event | None = None
) -> Event:
    """One TrackML event of the library ``entries`` (new particle ids ``1..k``), on the
    hits of ``background`` when given (kept unchanged, unlabelled; see the module
    docstring)."""
    if library.detector != "trackml":
        raise ConfigError(
            f"a TrackML overlay needs a TrackML track library, not a {library.detector} one"
        )
    entries = np.asarray(entries, dtype=np.int64)
    hits, truth, particles = _trackml_frames(library, entries)
    if background is None:
        hit_id = np.arange(1, len(hits) + 1, dtype=np.int64)
        all_hits = hits.assign(hit_id=hit_id)
        all_truth = truth.assign(hit_id=hit_id)
        meta: dict[str, str | int] = {"detector": "trackml", "kind": "synthetic"}
    else:
        bg = background.hits
        top = int(bg["hit_id"].max()) if len(bg) else 0
        hit_id = top + 1 + np.arange(len(hits), dtype=np.int64)
        real_truth = pd.DataFrame(
            {
                "hit_id": bg["hit_id"].to_numpy(),
                "particle_id": np.full(len(bg), UNLABELLED_PARTICLE_ID, dtype=np.int64),
                "tx": bg["x"].to_numpy(),
                "ty": bg["y"].to_numpy(),
                "tz": bg["z"].to_numpy(),
                "tpx": np.zeros(len(bg)),
                "tpy": np.zeros(len(bg)),
                "tpz": np.zeros(len(bg)),
            }
        )
        all_hits = pd.concat(
            [bg[list(HITS_SCHEMA)], hits.assign(hit_id=hit_id)[list(HITS_SCHEMA)]],
            ignore_index=True,
        )
        all_truth = pd.concat([real_truth, truth.assign(hit_id=hit_id)], ignore_index=True)
        meta = {
            "detector": "trackml",
            "kind": "semi-synthetic",
            "background_event_id": background.event_id,
        }
    all_hits = all_hits[list(HITS_SCHEMA)].astype(dict(HITS_SCHEMA))
    all_truth = all_truth.assign(weight=0.0)[list(TRUTH_SCHEMA)]
    particles = particles[list(PARTICLES_SCHEMA)].astype(dict(PARTICLES_SCHEMA))
    all_truth["weight"] = compute_hit_weights(all_truth, particles)
    return Event(
        event_id=int(event_id),
        hits=all_hits,
        truth=all_truth.astype(dict(TRUTH_SCHEMA)),
        particles=particles,
        meta=meta,
    )


def iter_trackml_overlay(
    library: TrackLibrary,
    *,
    n_events: int,
    tracks_per_event: int,
    seed: int,
    first_event_id: int = 0,
    with_singles: bool = False,
    background_dir: str | os.PathLike[str] | None = None,
    provenance: list[pd.DataFrame] | None = None,
    only: Container[int] | None = None,
) -> Iterator[Event]:
    """TrackML overlay events one by one (see the module docstring); background events
    are read from ``background_dir`` (their hits only: any truth there is ignored).

    ``only``: the events whose ids are in this collection, and no others (each event draws
    from its own random stream, so a part of the run is the same events as in the
    whole run; worker processes each make a part)."""
    check_overlay(
        library,
        "trackml",
        n_events=n_events,
        tracks_per_event=tracks_per_event,
        first_event_id=first_event_id,
        seed=seed,
        with_singles=with_singles,
        has_background=background_dir is not None,
    )
    prefixes = list_events(background_dir) if background_dir is not None else []
    if background_dir is not None and not prefixes:
        raise DataError(
            f"no TrackML events ({EVENT_FILES}) in the background directory",
            file=str(background_dir),
        )
    sink = provenance if provenance is not None else []
    cached: tuple[int, Event] | None = None
    if only is None:
        only = range(first_event_id, first_event_id + n_events + len(library))
    for event_id in range(first_event_id, first_event_id + n_events):
        if event_id not in only:
            continue
        rng = _streams(seed, TRACKML_TAG, event_id).choice
        entries = choose_entries(len(library), 1, tracks_per_event, rng)[0]
        background = None
        if prefixes:
            index = event_id % len(prefixes)
            if cached is None or cached[0] != index:
                cached = (index, read_event(prefixes[index], parts=("hits",)))
            background = cached[1]
        event = trackml_overlay_event(library, entries, event_id, background)
        sink.append(
            _provenance(
                np.array([event_id]),
                entries[None, :],
                library,
                None if background is None else np.array([background.event_id]),
            )
        )
        yield event
    if with_singles:
        for index in range(len(library)):
            event_id = first_event_id + n_events + index
            if event_id not in only:
                continue
            sink.append(_provenance(np.array([event_id]), np.array([[index]]), library, None))
            yield trackml_overlay_event(library, np.array([index]), event_id)
