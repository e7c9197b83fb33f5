"""Events with truth -> training tracks: hits grouped by particle, ordered along the trajectory.

A *track* here is the list of one particle's hits in the order the particle crossed them.
:func:`event_tracks` builds them for a whole event with array operations only (a sort and
``np.unique`` over all hits; no Python loop per hit or per particle) and returns a
:class:`TrackSet`, a compact ragged container that saves to one ``.npz`` file.

Ordering along the trajectory
-----------------------------
Sorting a particle's hits by the distance from the origin is wrong for a *looper* (a
low-pT particle that curls back and crosses the same layers again, inwards) and fragile
for end-cap tracks (successive disks at increasing ``|z|`` but nearly equal radius) and
for secondaries produced away from the origin. Instead every hit gets the **transverse
arc length** ``s`` (mm) travelled from the particle's production vertex along the helix,
computed from truth only:

1. In the transverse plane, hit ``i`` of a particle with vertex ``v`` and production
   momentum ``p0`` is written in the frame of the initial direction: ``u`` along
   ``p0_T``, ``w`` along its left normal (both mm, relative to ``v``).
2. A circle through the vertex, tangent to ``p0_T``, has the signed curvature ``k``
   (1/mm, ``k > 0`` turning left) and satisfies ``k (u^2 + w^2) = 2 w``. ``k`` is fitted
   per particle by linear least squares over its hits (closed form, sums by
   ``np.bincount``), so neither the field strength nor its sign nor the charge is
   assumed.
3. The turning angle of the hit around the circle centre, measured from the vertex in
   the direction of motion, is ``psi = atan2(|k| u, 1 - k w)`` in ``(-pi, pi]``; ``psi``
   grows monotonically along a helix but is only known modulo ``2 pi``.
4. Whole turns are counted with the longitudinal motion, which is linear in the turning
   angle on a helix: ``Psi_z = |k| (z - v_z) / cot(theta)``, with ``cot(theta) =
   p_z / p_T`` averaged between the vertex and the hit (truth momenta). The turning angle
   is ``Psi = psi + 2 pi n`` with ``n = round((Psi_z - psi) / 2 pi)``. This is used only
   where the pitch is measurable: ``|cot(theta)| >= Z_UNWRAP_MIN_COT`` at both the vertex
   and the hit, with equal signs. Elsewhere (a particle moving nearly perpendicular to
   the beam) whole turns cannot be told apart and the first turn is assumed: ``psi`` is
   taken in ``[0, 2 pi)``, except that a hit at most ``BEHIND_VERTEX_TOLERANCE_MM`` of
   arc behind the vertex keeps its small negative angle (a hit on the module where a
   secondary was produced).
5. ``s = Psi / |k|`` (mm); for a straight track (``k = 0``) ``s = u``. Ties are broken by
   the longitudinal progress ``(z - v_z) sign(p0_z)``.

This orders correctly radial barrel tracks, end-cap tracks (``s`` grows with ``|z|``
although ``r`` barely changes), loopers within their first turn (the inward half has
``Psi > pi``), and multi-turn loopers whose pitch is measurable. Real TrackML truth has
a few *particle-id collisions* (hits of two particles under one id); no order is right
for those. :attr:`TrackSet.backward_steps` counts, per track, the consecutive steps whose
displacement points against the truth momentum at either end, so such tracks can be
filtered out (:class:`tracknet.data.filters.TrackFilter` ``consistent_only``).

Units: coordinates in mm, ``pt`` in GeV, ``eta`` dimensionless, vertex in mm.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import DataError
from ..events import NOISE_PARTICLE_ID, Event, particle_kinematics
from ..io.atomic import atomic_path

__all__ = [
    "BEHIND_VERTEX_TOLERANCE_MM",
    "HIT_FIELDS",
    "TRACKSET_FORMAT_VERSION",
    "TRACK_FIELDS",
    "Z_UNWRAP_MIN_COT",
    "TrackSet",
    "event_tracks",
    "ragged_gather",
    "tracks_from_events",
    "trajectory_path",
]

#: Smallest ``|p_z / p_T|`` (at the vertex and at the hit) for which whole turns are
#: counted from the longitudinal motion (step 4 of the module docstring).
Z_UNWRAP_MIN_COT = 0.1
#: How far (mm of transverse arc) a hit may lie *behind* the vertex when whole turns
#: cannot be counted from z; anything further back is taken as the end of the first turn
#: (a looper coming back to the beam line reaches the innermost layer, r ~ 30 mm, some
#: 30 mm of arc before completing its turn).
BEHIND_VERTEX_TOLERANCE_MM = 2.0
#: Version written into every saved :class:`TrackSet`.
TRACKSET_FORMAT_VERSION = 1

# name -> (dtype, trailing shape). One entry per hit, in track order.
HIT_FIELDS: dict[str, tuple[np.dtype, tuple[int, ...]]] = {
    "coords": (np.dtype("float32"), (3,)),  # measured x, y, z (mm)
    "hit_id": (np.dtype("int64"), ()),
    "volume_id": (np.dtype("int32"), ()),
    "layer_id": (np.dtype("int32"), ()),
    "module_id": (np.dtype("int32"), ()),
}
# name -> (dtype, trailing shape). One entry per track.
TRACK_FIELDS: dict[str, tuple[np.dtype, tuple[int, ...]]] = {
    "particle_id": (np.dtype("int64"), ()),
    "event_id": (np.dtype("int64"), ()),
    "pt": (np.dtype("float32"), ()),  # GeV, at production
    "eta": (np.dtype("float32"), ()),  # pseudorapidity at production
    "vertex": (np.dtype("float32"), (3,)),  # production vertex (mm)
    "charge": (np.dtype("int32"), ()),  # e
    "backward_steps": (np.dtype("int32"), ()),  # steps against the truth momentum
}
_OFFSETS = "offsets"
_VERSION = "format_version"
#: Every key of a saved TrackSet, written and checked in one place.
_NPZ_KEYS: tuple[str, ...] = (_VERSION, _OFFSETS, *HIT_FIELDS, *TRACK_FIELDS)


def _as_index(key: Any, n: int) -> np.ndarray:
    """Normalise an int / slice / int array / bool mask into int64 track indices."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        key = np.array([int(key)])
    elif isinstance(key, slice):
        return np.arange(n, dtype=np.int64)[key]
    index = np.asarray(key)
    if index.dtype == bool:
        if index.shape != (n,):
            raise IndexError(f"boolean track mask has shape {index.shape}, expected ({n},)")
        return np.flatnonzero(index)
    if index.size == 0:
        return np.zeros(0, dtype=np.int64)
    if index.dtype.kind not in "iu":
        raise IndexError(
            f"tracks are indexed by integers, slices or boolean masks, not {index.dtype}"
        )
    index = index.astype(np.int64).ravel()
    if index.min() < -n or index.max() >= n:
        raise IndexError(f"track index out of range for {n} tracks")
    return np.where(index < 0, index + n, index)


def ragged_gather(offsets: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat element indices of the rows ``index`` of a ragged array, and the new offsets."""
    starts = offsets[index]
    lengths = offsets[index + 1] - starts
    new_offsets = np.zeros(len(index) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    flat = np.repeat(starts - new_offsets[:-1], lengths) + np.arange(
        new_offsets[-1], dtype=np.int64
    )
    return flat, new_offsets


@dataclass(frozen=True, eq=False)
class TrackSet:
    """A ragged set of tracks: flat per-hit arrays plus ``offsets`` (``n_tracks + 1``).

    Hits of track ``i`` are rows ``offsets[i]:offsets[i + 1]`` of the per-hit arrays, in
    trajectory order. Per hit: ``coords`` (float32 ``(N, 3)``, mm), ``hit_id`` (int64,
    unique within an event), ``volume_id``/``layer_id``/``module_id`` (int32). Per track:
    ``particle_id`` and ``event_id`` (int64), ``pt`` (GeV) and ``eta`` at production
    (float32), ``vertex`` (float32 ``(n, 3)``, mm), ``charge`` (int32, e) and
    ``backward_steps`` (int32, see :mod:`tracknet.data.tracks`).

    Arrays are converted to these dtypes on construction and checked for consistent
    shapes; a bad set raises :class:`~tracknet.errors.DataError`.
    """

    offsets: np.ndarray
    coords: np.ndarray
    hit_id: np.ndarray
    volume_id: np.ndarray
    layer_id: np.ndarray
    module_id: np.ndarray
    particle_id: np.ndarray
    event_id: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    vertex: np.ndarray
    charge: np.ndarray
    backward_steps: np.ndarray

    hit_fields: ClassVar[tuple[str, ...]] = tuple(HIT_FIELDS)
    track_fields: ClassVar[tuple[str, ...]] = tuple(TRACK_FIELDS)

    def __post_init__(self) -> None:
        offsets = np.ascontiguousarray(self.offsets, dtype=np.int64)
        if offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0 or np.any(np.diff(offsets) < 0):
            raise DataError("track offsets must be a non-decreasing 1-d array starting at 0")
        object.__setattr__(self, "offsets", offsets)
        n_hits, n_tracks = int(offsets[-1]), len(offsets) - 1
        for group, n in ((HIT_FIELDS, n_hits), (TRACK_FIELDS, n_tracks)):
            for name, (dtype, tail) in group.items():
                value = np.ascontiguousarray(getattr(self, name), dtype=dtype)
                if value.shape != (n, *tail):
                    raise DataError(
                        f"track set field '{name}' has shape {value.shape}, expected {(n, *tail)}"
                    )
                object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ sizes
    @property
    def n_tracks(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_hits(self) -> int:
        return int(self.offsets[-1])

    def __len__(self) -> int:
        return self.n_tracks

    @property
    def lengths(self) -> np.ndarray:
        """Hits per track, int64 ``(n_tracks,)``."""
        return np.diff(self.offsets)

    def track_index(self) -> np.ndarray:
        """The track of every hit, int64 ``(n_hits,)``."""
        return np.repeat(np.arange(self.n_tracks, dtype=np.int64), self.lengths)

    def first_hit(self) -> np.ndarray:
        """Flat index of each track's first hit (only meaningful for non-empty tracks)."""
        return self.offsets[:-1]

    def track_coords(self, i: int) -> np.ndarray:
        """The ``(n_i, 3)`` coordinates (mm) of track ``i`` (a view)."""
        i = int(_as_index(i, self.n_tracks)[0])
        return self.coords[self.offsets[i] : self.offsets[i + 1]]

    # ------------------------------------------------------------------ build / select
    @classmethod
    def empty(cls) -> TrackSet:
        arrays: dict[str, Any] = {_OFFSETS: np.zeros(1, dtype=np.int64)}
        for group in (HIT_FIELDS, TRACK_FIELDS):
            for name, (dtype, tail) in group.items():
                arrays[name] = np.zeros((0, *tail), dtype=dtype)
        return cls(**arrays)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array by field name (``offsets`` included)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def take(self, index: Any) -> TrackSet:
        """The tracks ``index`` (int, slice, int array or boolean mask), in that order."""
        idx = _as_index(index, self.n_tracks)
        flat, offsets = ragged_gather(self.offsets, idx)
        out: dict[str, Any] = {_OFFSETS: offsets}
        out.update({name: getattr(self, name)[flat] for name in HIT_FIELDS})
        out.update({name: getattr(self, name)[idx] for name in TRACK_FIELDS})
        return TrackSet(**out)

    def __getitem__(self, index: Any) -> TrackSet:
        return self.take(index)

    def select_hits(self, keep: np.ndarray) -> TrackSet:
        """Keep the hits where ``keep`` (bool, ``(n_hits,)``) is true.

        Tracks left empty are dropped.
        """
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (self.n_hits,):
            raise DataError(f"hit mask has shape {keep.shape}, expected ({self.n_hits},)")
        counts = np.bincount(self.track_index()[keep], minlength=self.n_tracks)
        alive = counts > 0
        offsets = np.zeros(int(alive.sum()) + 1, dtype=np.int64)
        np.cumsum(counts[alive], out=offsets[1:])
        out: dict[str, Any] = {_OFFSETS: offsets}
        out.update({name: getattr(self, name)[keep] for name in HIT_FIELDS})
        out.update({name: getattr(self, name)[alive] for name in TRACK_FIELDS})
        return TrackSet(**out)

    @classmethod
    def concatenate(cls, sets: Sequence[TrackSet]) -> TrackSet:
        """One set holding the tracks of ``sets`` in order."""
        sets = list(sets)
        if not sets:
            return cls.empty()
        hit_base = np.cumsum([0] + [s.n_hits for s in sets[:-1]])
        offsets = np.concatenate(
            [np.zeros(1, dtype=np.int64)]
            + [s.offsets[1:] + b for s, b in zip(sets, hit_base, strict=True)]
        )
        out: dict[str, Any] = {_OFFSETS: offsets}
        for name in (*HIT_FIELDS, *TRACK_FIELDS):
            out[name] = np.concatenate([getattr(s, name) for s in sets])
        return cls(**out)

    # ------------------------------------------------------------------ storage
    def save(self, path: str | os.PathLike[str], *, compress: bool = False) -> Path:
        """Write one ``.npz`` file atomically.

        Keys: the field names, ``offsets``, ``format_version``.
        """
        path = Path(path)
        arrays = self.arrays()
        arrays[_VERSION] = np.array(TRACKSET_FORMAT_VERSION, dtype=np.int64)
        assert set(arrays) == set(_NPZ_KEYS)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            # Typed as Callable[..., None]: the stubs would match **arrays to allow_pickle.
            savez: Callable[..., None] = np.savez_compressed if compress else np.savez
            savez(handle, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrackSet:
        """Read a file written by :meth:`save`; a missing key or bad shape raises ``DataError``."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                present = set(data.files)
                for key in _NPZ_KEYS:
                    if key not in present:
                        raise DataError(f"track set file lacks key '{key}'", file=str(path))
                version = int(data[_VERSION])
                if version != TRACKSET_FORMAT_VERSION:
                    raise DataError(
                        f"track set format version {version}, "
                        f"this code reads {TRACKSET_FORMAT_VERSION}",
                        file=str(path),
                    )
                arrays = {key: data[key] for key in _NPZ_KEYS if key != _VERSION}
        except (OSError, ValueError) as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(f"cannot read track set: {exc}", file=str(path)) from None
        try:
            return cls(**arrays)
        except DataError as exc:
            raise DataError(exc.reason, file=str(path)) from None


# --------------------------------------------------------------------------- ordering


def trajectory_path(
    positions: np.ndarray,
    momenta: np.ndarray,
    particle_index: np.ndarray,
    vertices: np.ndarray,
    momenta0: np.ndarray,
) -> np.ndarray:
    """Transverse arc length (mm) of each hit from its particle's vertex along the helix.

    ``positions`` ``(n, 3)`` mm and ``momenta`` ``(n, 3)`` GeV are the truth position and
    momentum at each hit; ``particle_index`` ``(n,)`` points into ``vertices`` ``(m, 3)``
    mm and ``momenta0`` ``(m, 3)`` GeV, the production vertex and momentum of each
    particle. The method (a per-particle circle fit through the vertex, the turning angle
    around it, whole turns counted from z where the pitch allows) is described in the
    module docstring. Sorting a particle's hits by the result orders them along its
    trajectory. Pure function; float64 throughout.
    """
    positions = np.asarray(positions, dtype=np.float64)
    momenta = np.asarray(momenta, dtype=np.float64)
    particle_index = np.asarray(particle_index, dtype=np.int64)
    vertices = np.asarray(vertices, dtype=np.float64)
    momenta0 = np.asarray(momenta0, dtype=np.float64)
    m = len(vertices)

    pt0 = np.hypot(momenta0[:, 0], momenta0[:, 1])
    has_pt = pt0 > 0
    safe_pt0 = np.where(has_pt, pt0, 1.0)
    # Unit initial transverse direction (x-axis when the particle has no transverse momentum).
    tx = np.where(has_pt, momenta0[:, 0] / safe_pt0, 1.0)[particle_index]
    ty = np.where(has_pt, momenta0[:, 1] / safe_pt0, 0.0)[particle_index]
    d = positions - vertices[particle_index]
    u = d[:, 0] * tx + d[:, 1] * ty
    w = d[:, 1] * tx - d[:, 0] * ty
    rho2 = u * u + w * w

    # Least squares for k in k * rho2 = 2 w, per particle.
    num = np.bincount(particle_index, weights=2.0 * w * rho2, minlength=m)
    den = np.bincount(particle_index, weights=rho2 * rho2, minlength=m)
    k_particle = np.divide(num, den, out=np.zeros(m), where=den > 0)
    k = k_particle[particle_index]
    abs_k = np.abs(k)
    psi = np.arctan2(abs_k * u, 1.0 - k * w)

    with np.errstate(divide="ignore", invalid="ignore"):
        cot0 = np.where(has_pt, momenta0[:, 2] / safe_pt0, np.sign(momenta0[:, 2]) * np.inf)[
            particle_index
        ]
        cot_hit = momenta[:, 2] / np.hypot(momenta[:, 0], momenta[:, 1])
        pitch_known = (
            (np.abs(cot0) >= Z_UNWRAP_MIN_COT)
            & (np.abs(cot_hit) >= Z_UNWRAP_MIN_COT)
            & (np.sign(cot0) == np.sign(cot_hit))
        )
        # 1 / mean cot(theta): 0 for a particle without transverse motion (cot = inf).
        inv_cot = 2.0 / (cot0 + cot_hit)
        psi_z = abs_k * d[:, 2] * inv_cot
        turns_z = np.round((psi_z - psi) / (2.0 * np.pi))
    behind = psi < -BEHIND_VERTEX_TOLERANCE_MM * abs_k  # more than the tolerance of arc behind
    turns = np.where(pitch_known & np.isfinite(turns_z), turns_z, behind.astype(np.float64))
    turning_angle = psi + 2.0 * np.pi * turns
    arc: np.ndarray = np.where(k == 0.0, u, turning_angle / np.where(k == 0.0, 1.0, abs_k))
    return arc


# --------------------------------------------------------------------------- events


def _column(frame: Any, name: str, dtype: type) -> np.ndarray:
    values: np.ndarray = frame[name].to_numpy(dtype=dtype)
    return values


def event_tracks(event: Event, *, apply_blacklists: bool = True) -> TrackSet:
    """The truth tracks of one event, ordered along their trajectories.

    Hits of noise (particle id 0) and of TrackNET's reserved negative ids are left out.
    When ``apply_blacklists`` and the event carries ``blacklist_hits`` /
    ``blacklist_particles``, those hits and all hits of those particles are left out too.
    Tracks come in increasing ``particle_id``; coordinates are the measured hit positions
    (mm), the order uses the truth positions and momenta (see the module docstring).

    Raises :class:`~tracknet.errors.DataError` when the event has no truth or particles
    table, or a hit names a particle that the particles table lacks.
    """
    where = f"event {event.event_id}"
    if event.truth is None:
        raise DataError(f"{where}: no truth, so no training tracks can be built")
    if event.particles is None:
        raise DataError(
            f"{where}: no particles table (vertex and momentum order the hits along the trajectory)"
        )
    hits, truth, particles = event.hits, event.truth, event.particles
    if len(truth) != len(hits):
        raise DataError(f"{where}: {len(truth)} truth rows for {len(hits)} hits")

    pid = _column(truth, "particle_id", np.int64)
    hit_id = _column(hits, "hit_id", np.int64)
    keep = pid > NOISE_PARTICLE_ID  # noise is 0, TrackNET's reserved ids are negative
    if apply_blacklists and event.blacklist_hits is not None and len(event.blacklist_hits):
        keep &= ~np.isin(hit_id, _column(event.blacklist_hits, "hit_id", np.int64))
    if (
        apply_blacklists
        and event.blacklist_particles is not None
        and len(event.blacklist_particles)
    ):
        keep &= ~np.isin(pid, _column(event.blacklist_particles, "particle_id", np.int64))
    sel = np.flatnonzero(keep)
    if len(sel) == 0:
        return TrackSet.empty()

    # Particle table row of every kept hit, through the sorted particle ids.
    table_ids = _column(particles, "particle_id", np.int64)
    by_id = np.argsort(table_ids, kind="stable")
    sorted_ids = table_ids[by_id]
    hit_pid = pid[sel]
    pos = np.searchsorted(sorted_ids, hit_pid)
    found = (pos < len(sorted_ids)) & (sorted_ids[np.minimum(pos, len(sorted_ids) - 1)] == hit_pid)
    if not found.all():
        bad = int(np.flatnonzero(~found)[0])
        raise DataError(
            f"{where}: particle_id {hit_pid[bad]} of hit {hit_id[sel[bad]]} "
            "is not in the particles table"
        )

    # Group: one track per distinct particle, in increasing particle id.
    unique_pos, track_of_hit, counts = np.unique(pos, return_inverse=True, return_counts=True)
    rows = by_id[unique_pos]  # particles-table row of each track
    vertex = np.column_stack([_column(particles, c, np.float64)[rows] for c in ("vx", "vy", "vz")])
    p0 = np.column_stack([_column(particles, c, np.float64)[rows] for c in ("px", "py", "pz")])

    true_pos = np.column_stack([_column(truth, c, np.float64)[sel] for c in ("tx", "ty", "tz")])
    true_mom = np.column_stack([_column(truth, c, np.float64)[sel] for c in ("tpx", "tpy", "tpz")])
    path = trajectory_path(true_pos, true_mom, track_of_hit, vertex, p0)
    # Ties in the transverse path (e.g. a track along the beam) broken by the progress in z.
    progress_z = (true_pos[:, 2] - vertex[track_of_hit, 2]) * np.sign(p0[track_of_hit, 2])
    order = np.lexsort((progress_z, path, track_of_hit))
    flat = sel[order]
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])

    # Steps whose displacement points against the truth momentum at either end.
    sorted_track = track_of_hit[order]
    step = np.diff(true_pos[order], axis=0)
    mom = true_mom[order]
    against = (np.einsum("ij,ij->i", step, mom[:-1]) < 0) | (
        np.einsum("ij,ij->i", step, mom[1:]) < 0
    )
    backward = (sorted_track[1:] == sorted_track[:-1]) & against
    backward_steps = np.bincount(sorted_track[1:][backward], minlength=len(counts))

    kin = particle_kinematics(particles.iloc[rows])
    charge = _column(particles, "q", np.int64)[rows]
    return TrackSet(
        offsets=offsets,
        coords=np.column_stack([_column(hits, c, np.float64)[flat] for c in ("x", "y", "z")]),
        hit_id=hit_id[flat],
        volume_id=_column(hits, "volume_id", np.int64)[flat],
        layer_id=_column(hits, "layer_id", np.int64)[flat],
        module_id=_column(hits, "module_id", np.int64)[flat],
        particle_id=table_ids[rows],
        event_id=np.full(len(counts), event.event_id, dtype=np.int64),
        pt=kin["pt"].to_numpy(),
        eta=kin["eta"].to_numpy(),
        vertex=vertex,
        charge=charge,
        backward_steps=backward_steps,
    )


def tracks_from_events(events: Iterable[Event], *, apply_blacklists: bool = True) -> TrackSet:
    """:func:`event_tracks` of every event, concatenated in order."""
    return TrackSet.concatenate(
        [event_tracks(e, apply_blacklists=apply_blacklists) for e in events]
    )
