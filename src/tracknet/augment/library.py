"""Isolated-track libraries: labelled tracks cut from a labelled source, ready to overlay.

A :class:`TrackLibrary` holds one entry per track passing :class:`LibraryCriteria`, with
its labelled hits, truth and where it came from, from a straw dataset (isolated tracks by
default) or TrackML events with truth. Selection is vectorised over whole events.
See ``docs/augmentation.md`` (Isolated-track libraries).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from tracknet.errors import DataError
from tracknet.events import Event, particle_kinematics
from tracknet.io.straw import StrawDataset
from tracknet.schema import Settings, setting
from tracknet.simulation.straw.batch import StrawBatch
from tracknet.simulation.straw.geometry import StrawGeometry

__all__ = [
    "ENTRY_COLUMNS",
    "STRAW_LIBRARY_HITS",
    "TRACKML_LIBRARY_HITS",
    "LibraryCriteria",
    "TrackLibrary",
    "straw_library",
    "trackml_library",
]

#: Columns of the entries table (one row per library track).
ENTRY_COLUMNS: tuple[str, ...] = (
    "source_event_id",
    "source_particle_id",
    "vx",
    "vy",
    "vz",
    "px",
    "py",
    "pz",
    "q",
    "nhits",
)
#: Hit columns kept for a straw library (positions follow from ``straw_id``).
STRAW_LIBRARY_HITS: tuple[str, ...] = ("straw_id", "drift_mm", "tx", "ty", "tpx", "tpy")
#: Hit columns kept for a TrackML library.
TRACKML_LIBRARY_HITS: tuple[str, ...] = (
    "x",
    "y",
    "z",
    "volume_id",
    "layer_id",
    "module_id",
    "tx",
    "ty",
    "tz",
    "tpx",
    "tpy",
    "tpz",
)


@dataclass(frozen=True)
class LibraryCriteria(Settings):
    """Which tracks of a labelled source enter the library (see the module docstring).

    ``max_tracks`` and ``max_other_hits`` are per *source event* (``None``: no limit);
    the others per track. ``min_pt_gev`` cuts on ``hypot(px, py)`` of the particle
    (for a straw track that is its momentum). Straw events without labels are selected
    by a fit instead (:mod:`tracknet.augment.fit_selection`): one built track per event,
    ``min_hits``, ``max_other_hits`` and ``max_fit_rms_mm``, built and fitted at the
    positions of the straw ``alignment`` file when one is named.
    """

    label: ClassVar[str] = "library criterion"

    min_hits: int = setting(5, low=1)
    max_tracks: int | None = setting(1, low=1)
    max_other_hits: int | None = setting(None, low=0)
    min_pt_gev: float = setting(0.0, low=0.0)
    max_abs_eta: float = setting(math.inf, low=0.0, allow_inf=True)
    primaries_only: bool = False
    max_fit_rms_mm: float = setting(1.0, low=0.0, open_low=True)
    alignment: str | None = None

    def validate(self) -> None:
        if self.alignment is not None and not self.alignment.strip():
            raise self.fail("alignment", "must be a path or null", self.alignment)

    def to_dict(self) -> dict[str, Any]:
        """The schema's dict, with no limit on ``|eta|`` written as ``None`` (JSON has no inf)."""
        out = super().to_dict()
        out["max_abs_eta"] = None if math.isinf(self.max_abs_eta) else self.max_abs_eta
        return out


@dataclass(frozen=True)
class TrackLibrary:
    """Tracks to overlay: ``entries`` (one row per track, :data:`ENTRY_COLUMNS`) and the
    hits of entry ``i`` at rows ``offsets[i]:offsets[i + 1]`` of ``hits``.

    ``detector`` is ``"straw"`` or ``"trackml"``; a straw library carries its source's
    ``geometry``. Hits keep the order they had in their source event.
    """

    detector: str
    entries: dict[str, np.ndarray]
    hits: dict[str, np.ndarray]
    offsets: np.ndarray
    geometry: StrawGeometry | None = None
    source: str = ""
    criteria: LibraryCriteria = field(default_factory=LibraryCriteria)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_hits(self) -> int:
        return int(self.offsets[-1])

    def sizes(self) -> np.ndarray:
        """Hits of each entry."""
        return np.diff(self.offsets)

    def gather(self, entries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hit rows of the given entries, concatenated, and for each row its position in
        ``entries``."""
        entries = np.asarray(entries, dtype=np.int64)
        size = self.offsets[entries + 1] - self.offsets[entries]
        starts = np.cumsum(size) - size
        which = np.repeat(np.arange(len(entries)), size)
        rows = self.offsets[entries][which] + (np.arange(int(size.sum())) - starts[which])
        return rows, which

    def describe(self) -> dict[str, Any]:
        """Plain facts for a dataset record."""
        return {
            "detector": self.detector,
            "source": self.source,
            "n_tracks": len(self),
            "n_hits": self.n_hits,
            "criteria": self.criteria.to_dict(),
        }


def _event_filter(
    event_key: np.ndarray, pid: np.ndarray, criteria: LibraryCriteria
) -> tuple[np.ndarray, np.ndarray]:
    """Per hit: whether its event passes the per-event criteria; ``(ok_hit, n_tracks)``."""
    events, inverse = np.unique(event_key, return_inverse=True)
    labelled = pid > 0
    pairs = (
        np.unique(np.column_stack([inverse[labelled], pid[labelled]]), axis=0)
        if labelled.any()
        else np.zeros((0, 2), dtype=np.int64)
    )
    n_tracks = (
        np.bincount(pairs[:, 0], minlength=len(events))
        if len(pairs)
        else np.zeros(len(events), dtype=np.int64)
    )
    n_other = np.bincount(inverse[~labelled], minlength=len(events))
    ok = np.ones(len(events), dtype=bool)
    if criteria.max_tracks is not None:
        ok &= n_tracks <= criteria.max_tracks
    if criteria.max_other_hits is not None:
        ok &= n_other <= criteria.max_other_hits
    return ok[inverse], n_tracks


def _select_tracks(
    event_id: np.ndarray,
    pid: np.ndarray,
    criteria: LibraryCriteria,
    particles: pd.DataFrame,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Hit rows of the selected tracks, ordered by (event, particle, row), and one entry
    row per track (``source_event_id, source_particle_id`` + particle columns)."""
    ok_event, _ = _event_filter(event_id, pid, criteria)
    candidate = np.flatnonzero(ok_event & (pid > 0))
    if len(candidate) == 0:
        return candidate, pd.DataFrame(columns=list(ENTRY_COLUMNS))
    frame = pd.DataFrame(
        {"event_id": event_id[candidate], "particle_id": pid[candidate], "row": candidate}
    )
    counts = (
        frame.groupby(["event_id", "particle_id"], sort=True).size().rename("nhits").reset_index()
    )
    known = particles.set_index(["event_id", "particle_id"])
    counts = counts.join(
        known.drop(columns=[c for c in ("nhits",) if c in known.columns]),
        on=["event_id", "particle_id"],
        how="left",
    )
    missing = counts["px"].isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise DataError(
            f"particle {counts['particle_id'].iloc[row]} of event {counts['event_id'].iloc[row]} "
            "is not in the particles table"
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        kin = particle_kinematics(counts)
    keep = counts["nhits"].to_numpy() >= criteria.min_hits
    if criteria.min_pt_gev > 0:
        keep &= kin["pt"].to_numpy() >= criteria.min_pt_gev
    if math.isfinite(criteria.max_abs_eta):
        keep &= np.abs(kin["eta"].to_numpy()) <= criteria.max_abs_eta
    if criteria.primaries_only:
        from tracknet.evaluation.matching import (
            DEFAULT_PRIMARY_MAX_ABS_VZ_MM,
            DEFAULT_PRIMARY_MAX_VR_MM,
        )

        keep &= (kin["vr"].to_numpy() < DEFAULT_PRIMARY_MAX_VR_MM) & (
            np.abs(counts["vz"].to_numpy()) < DEFAULT_PRIMARY_MAX_ABS_VZ_MM
        )
    chosen = counts.loc[keep].reset_index(drop=True)
    selected = frame.merge(
        chosen[["event_id", "particle_id"]], on=["event_id", "particle_id"], how="inner"
    )
    selected = selected.sort_values(["event_id", "particle_id", "row"], kind="stable")
    entries = chosen.rename(
        columns={"event_id": "source_event_id", "particle_id": "source_particle_id"}
    )
    return selected["row"].to_numpy(), entries[list(ENTRY_COLUMNS)]


def _entries_dict(entries: pd.DataFrame) -> dict[str, np.ndarray]:
    dtypes = {
        "source_event_id": np.int64,
        "source_particle_id": np.int64,
        "q": np.int32,
        "nhits": np.int32,
    }
    return {c: entries[c].to_numpy().astype(dtypes.get(c, np.float64)) for c in ENTRY_COLUMNS}


def straw_library(
    source: StrawDataset | Iterable[StrawBatch],
    criteria: LibraryCriteria | None = None,
    *,
    geometry: StrawGeometry | None = None,
    field_tesla: float = 0.0,
) -> TrackLibrary:
    """The isolated-track library of straw events (a dataset, or batches of events).

    Events without labels (a dataset so recorded, or batches of
    :meth:`~tracknet.simulation.straw.batch.StrawBatch.without_labels`) are selected by
    fit, the momenta in the design field: the dataset's, or ``field_tesla`` for batches.
    """
    criteria = criteria or LibraryCriteria()
    name = ""
    by_fit = False
    if isinstance(source, StrawDataset):
        name = str(source.directory)
        geometry = geometry or StrawGeometry.from_dict(source.geometry_parameters())
        batches: Iterable[StrawBatch] = source.iter_batches()
        by_fit = not source.labelled
        gun = source.record["parameters"].get("config", {}).get("gun", {})
        field_tesla = 0.0 if gun.get("straight") else float(gun.get("field_tesla", 0.0))
    else:
        batches = source
    geometry = geometry or StrawGeometry()
    entry_frames: list[pd.DataFrame] = []
    hit_parts: list[dict[str, np.ndarray]] = []
    for batch in batches:
        h = batch.hits
        if len(h["straw_id"]) and h["straw_id"].max() >= geometry.n_straws:
            raise DataError(
                f"straw_id {int(h['straw_id'].max())} is outside the geometry "
                f"({geometry.n_straws} straws)"
            )
        if by_fit or not batch.meta.get("labelled", True):
            from tracknet.augment.fit_selection import fit_selected_tracks
            from tracknet.building.straw.alignment import aligned

            # Built and fitted at the aligned positions; the hits keep the design ones.
            rows, entries, fitted = fit_selected_tracks(
                aligned(batch, geometry, criteria.alignment),
                geometry,
                field_tesla,
                min_hits=criteria.min_hits,
                max_other_hits=criteria.max_other_hits,
                max_fit_rms_mm=criteria.max_fit_rms_mm,
            )
            entry_frames.append(entries[list(ENTRY_COLUMNS)])
            hit_parts.append(
                {c: fitted[c] if c in fitted else h[c][rows] for c in STRAW_LIBRARY_HITS}
            )
            continue
        particles = pd.DataFrame(dict(batch.particles.items()))
        rows, entries = _select_tracks(h["event_id"], h["particle_id"], criteria, particles)
        entry_frames.append(entries)
        hit_parts.append({c: h[c][rows] for c in STRAW_LIBRARY_HITS})
    return _finish("straw", entry_frames, hit_parts, STRAW_LIBRARY_HITS, geometry, name, criteria)


def trackml_library(
    events: Iterable[Event], criteria: LibraryCriteria | None = None, *, source: str = ""
) -> TrackLibrary:
    """The track library of TrackML events with truth and particles."""
    criteria = criteria or LibraryCriteria(max_tracks=None)
    entry_frames: list[pd.DataFrame] = []
    hit_parts: list[dict[str, np.ndarray]] = []
    for event in events:
        if event.truth is None or event.particles is None:
            raise DataError(
                f"{event.prefix}: a library source needs truth and particles "
                "(unlabelled events cannot give tracks)"
            )
        pid = event.truth["particle_id"].to_numpy()
        particles = event.particles.assign(event_id=event.event_id)
        rows, entries = _select_tracks(
            np.full(len(pid), event.event_id, dtype=np.int64), pid, criteria, particles
        )
        entry_frames.append(entries)
        hits, truth = event.hits, event.truth
        hit_parts.append(
            {
                c: (hits[c] if c in hits.columns else truth[c]).to_numpy()[rows]
                for c in TRACKML_LIBRARY_HITS
            }
        )
    return _finish("trackml", entry_frames, hit_parts, TRACKML_LIBRARY_HITS, None, source, criteria)


def _finish(
    detector: str,
    entry_frames: list[pd.DataFrame],
    hit_parts: list[dict[str, np.ndarray]],
    columns: tuple[str, ...],
    geometry: StrawGeometry | None,
    source: str,
    criteria: LibraryCriteria,
) -> TrackLibrary:
    frames = [f for f in entry_frames if len(f)]
    entries = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame({c: np.zeros(0) for c in ENTRY_COLUMNS})
    )
    entry_cols = _entries_dict(entries)
    hits = {
        c: np.concatenate([p[c] for p in hit_parts]) if hit_parts else np.zeros(0) for c in columns
    }
    offsets = np.concatenate([[0], np.cumsum(entry_cols["nhits"].astype(np.int64))])
    if offsets[-1] != len(hits[columns[0]]):
        raise DataError(
            "library hits and entries disagree"
        )  # pragma: no cover - internal invariant
    return TrackLibrary(detector, entry_cols, hits, offsets, geometry, source, criteria)
