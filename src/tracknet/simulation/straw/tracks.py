"""Tracks of the 2D straw tracker: occupancy, the track gun and straw crossings.

:class:`Occupancy` (tracks per event, optionally decaying with the time in the fill),
:class:`TrackGun` (entry point, direction, momentum, charge; circles in the field) and the
straw crossings (closed-form plane crossings, exact DCA). Pure functions on flat arrays
of many tracks; randomness only through the ``rng`` arguments.

See ``docs/simulation.md`` (Occupancy and time in the fill, Track gun and trajectories).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

from tracknet.errors import ConfigError
from tracknet.schema import Settings, setting
from tracknet.simulation.straw.geometry import StrawGeometry

if TYPE_CHECKING:
    from tracknet.simulation.straw.conditions import BuiltDetector

__all__ = [
    "C_GEV_PER_T_MM",
    "DEFAULT_TAU_US",
    "DISTRIBUTIONS",
    "MAX_TIME_IN_FILL_US",
    "Occupancy",
    "TrackGun",
    "TrackStates",
    "TrueHits",
    "closest_approach",
    "curvature",
    "layer_crossings",
    "mean_tracks",
    "sample_times",
    "sample_track_counts",
    "sample_tracks",
    "straw_crossings",
]

#: ``p [GeV] = C * B [T] * R [mm]`` for a unit charge: 0.299792458 GeV/(T m).
C_GEV_PER_T_MM = 0.299792458e-3
#: Time-dilated muon lifetime in the g-2 storage ring, microseconds.
DEFAULT_TAU_US = 64.4
DISTRIBUTIONS = ("poisson", "fixed", "uniform")
_MAX_TRACKS_LIMIT = 10_000
#: The latest time in the fill (us) a setting accepts: a fill lasts under a millisecond.
MAX_TIME_IN_FILL_US = 1.0e6
#: Extra reach (mm) of the candidate-straw window: covers the bending of the
#: trajectory inside one straw for curvature radii down to ~10 mm.
_CANDIDATE_MARGIN_MM = 0.5


# --------------------------------------------------------------------------- occupancy


def _charge(charge: Any) -> str | None:
    return None if charge in (-1, 0, 1) else "must be -1, +1 or 0 (random sign)"


@dataclass(frozen=True)
class Occupancy(Settings):
    """How many tracks an event holds (see ``docs/simulation.md``).

    Attributes:
        distribution: ``"poisson"`` (mean ``mean``, truncated to the range), ``"fixed"``
            (``round(mean)`` clipped to the range) or ``"uniform"`` (an integer uniform
            in ``[min_tracks, max_tracks]``; it has no time dependence).
        mean: tracks per event, at ``t = 0`` when a time in the fill is given.
        min_tracks, max_tracks: the allowed range of tracks per event.
        time_in_fill_us: time in the fill of every event (us), or the lower end of a
            uniform range when ``time_in_fill_max_us`` is given; ``None``: no time model,
            the mean is ``mean``.
        time_in_fill_max_us: upper end of the per-event uniform time range.
        tau_us: decay time of the rate (us).
    """

    label: ClassVar[str] = "occupancy"

    distribution: str = setting("poisson", choices=DISTRIBUTIONS)
    mean: float = setting(2.0, low=0.0)
    min_tracks: int = setting(0, low=0, high=_MAX_TRACKS_LIMIT)
    max_tracks: int = setting(8, low=0, high=_MAX_TRACKS_LIMIT)
    time_in_fill_us: float | None = setting(None, low=0.0, high=MAX_TIME_IN_FILL_US)
    time_in_fill_max_us: float | None = setting(None, low=0.0, high=MAX_TIME_IN_FILL_US)
    tau_us: float = setting(DEFAULT_TAU_US, low=0.0, open_low=True)

    def validate(self) -> None:
        if self.min_tracks > self.max_tracks:
            raise self.fail(
                "min_tracks", f"must not exceed max_tracks ({self.max_tracks})", self.min_tracks
            )
        if self.time_in_fill_us is not None and self.distribution == "uniform":
            raise ConfigError(
                "a time in the fill needs the poisson or fixed occupancy, not uniform"
            )
        if self.time_in_fill_max_us is not None:
            if self.time_in_fill_us is None:
                raise ConfigError("time_in_fill_max_us needs time_in_fill_us (the lower end)")
            if self.time_in_fill_max_us < self.time_in_fill_us:
                raise self.fail(
                    "time_in_fill_max_us",
                    f"must be >= time_in_fill_us ({self.time_in_fill_us})",
                    self.time_in_fill_max_us,
                )


def mean_tracks(occupancy: Occupancy, time_us: np.ndarray | float | None) -> np.ndarray:
    """The untruncated mean tracks per event at ``time_us``: ``mean * exp(-t / tau)``."""
    if time_us is None:
        return np.asarray(float(occupancy.mean))
    t = np.asarray(time_us, dtype=np.float64)
    return occupancy.mean * np.exp(-t / occupancy.tau_us)


def sample_times(occupancy: Occupancy, n_events: int, rng: np.random.Generator) -> np.ndarray:
    """Time in the fill of each event (us; NaN without a time model).

    One uniform number is drawn per event whatever the model, so the other draws of a
    stream do not depend on it.
    """
    u = rng.random(n_events)
    if occupancy.time_in_fill_us is None:
        return np.full(n_events, np.nan)
    lo = float(occupancy.time_in_fill_us)
    hi = lo if occupancy.time_in_fill_max_us is None else float(occupancy.time_in_fill_max_us)
    return lo + (hi - lo) * u


def _log_factorial(n: int) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=np.float64)))])


def sample_track_counts(
    occupancy: Occupancy, times_us: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Tracks of each event (int64), one uniform draw per event (inverse CDF).

    ``times_us`` holds each event's time in the fill (NaN: no time model).
    """
    n = len(times_us)
    u = rng.random(n)
    lo, hi = occupancy.min_tracks, occupancy.max_tracks
    if occupancy.distribution == "uniform":
        return lo + np.minimum((u * (hi - lo + 1)).astype(np.int64), hi - lo)
    t = np.asarray(times_us, dtype=np.float64)
    mean = np.where(
        np.isnan(t), occupancy.mean, occupancy.mean * np.exp(-np.nan_to_num(t) / occupancy.tau_us)
    )
    if occupancy.distribution == "fixed":
        return np.clip(np.rint(mean), lo, hi).astype(np.int64)
    k = np.arange(lo, hi + 1, dtype=np.float64)
    logf = _log_factorial(hi)[lo:]
    with np.errstate(divide="ignore", invalid="ignore"):
        logm = np.log(mean)[:, None]
        logp = np.where(k[None, :] == 0, 0.0, k[None, :] * logm) - logf[None, :]
    # Normalise in log space over the allowed range (a truncated Poisson). A zero mean
    # with min_tracks > 0 leaves no mass in the range: those events get min_tracks.
    top = np.max(logp, axis=1, keepdims=True)
    empty = ~np.isfinite(top[:, 0])
    cdf = np.cumsum(np.exp(logp - np.where(np.isfinite(top), top, 0.0)), axis=1)
    cdf /= np.where(cdf[:, -1:] > 0, cdf[:, -1:], 1.0)
    counts = np.minimum((cdf < u[:, None]).sum(axis=1), hi - lo)
    return (lo + np.where(empty, 0, counts)).astype(np.int64)


# --------------------------------------------------------------------------- track gun


@dataclass(frozen=True)
class TrackGun(Settings):
    """Randomised tracks entering the tracker (see ``docs/simulation.md``).

    Attributes:
        p_min_gev, p_max_gev: momentum range (uniform), GeV.
        angle_max_deg: entry directions are uniform in ``[-angle_max_deg, angle_max_deg]``
            around the ``x`` axis.
        entry_y_min_mm, entry_y_max_mm: entry ``y`` range; ``None``: the straws' extent.
        entry_gap_mm: the entry point lies this far before the first straw wall.
        charge: ``+1`` (positrons), ``-1``, or ``0`` for a random sign.
        field_tesla: magnetic field along ``+z``, tesla.
        straight: straight lines whatever the field.
        stop_angle_deg: a track is followed while ``|phi|`` stays below this.
    """

    label: ClassVar[str] = "track gun"

    p_min_gev: float = setting(0.5, low=0.0, open_low=True)
    p_max_gev: float = setting(3.0, low=0.0, open_low=True)
    angle_max_deg: float = setting(10.0, low=0.0)
    entry_y_min_mm: float | None = None
    entry_y_max_mm: float | None = None
    entry_gap_mm: float = setting(10.0, low=0.0)
    charge: int = setting(1, check=_charge)
    field_tesla: float = 1.45
    straight: bool = False
    stop_angle_deg: float = setting(72.5, low=0.0, open_low=True, high=85.0)

    def validate(self) -> None:
        if self.p_min_gev > self.p_max_gev:
            raise self.fail(
                "p_min_gev", f"must not exceed p_max_gev ({self.p_max_gev})", self.p_min_gev
            )
        if self.angle_max_deg >= self.stop_angle_deg:
            raise self.fail(
                "angle_max_deg",
                f"must be below stop_angle_deg ({self.stop_angle_deg})",
                self.angle_max_deg,
            )
        if (
            self.entry_y_min_mm is not None
            and self.entry_y_max_mm is not None
            and self.entry_y_min_mm > self.entry_y_max_mm
        ):
            raise self.fail(
                "entry_y_min_mm",
                f"must not exceed entry_y_max_mm ({self.entry_y_max_mm})",
                self.entry_y_min_mm,
            )

    def entry_range(self, geometry: StrawGeometry) -> tuple[float, float]:
        lo, hi = geometry.y_range
        return (
            lo if self.entry_y_min_mm is None else float(self.entry_y_min_mm),
            hi if self.entry_y_max_mm is None else float(self.entry_y_max_mm),
        )


class TrackStates(NamedTuple):
    """Flat arrays of tracks at their entry point: position (mm), direction angle
    ``phi`` to the ``x`` axis (rad), momentum (GeV), charge, signed curvature (1/mm)."""

    x0: np.ndarray
    y0: np.ndarray
    phi0: np.ndarray
    p: np.ndarray
    q: np.ndarray
    kappa: np.ndarray


def curvature(p: np.ndarray, q: np.ndarray, field_tesla: float) -> np.ndarray:
    """Signed curvature (1/mm) of charge ``q`` with momentum ``p`` (GeV) in ``B`` (T)."""
    return (
        -np.asarray(q, dtype=np.float64)
        * (field_tesla * C_GEV_PER_T_MM)
        / np.asarray(p, dtype=np.float64)
    )


def sample_tracks(
    gun: TrackGun, geometry: StrawGeometry, n: int, rng: np.random.Generator
) -> TrackStates:
    """``n`` tracks from the gun; always four uniform draws per track, in a fixed order."""
    u = rng.random((4, n))
    ylo, yhi = gun.entry_range(geometry)
    amax = math.radians(gun.angle_max_deg)
    x0 = np.full(n, geometry.x_range[0] - gun.entry_gap_mm)
    y0 = ylo + (yhi - ylo) * u[0]
    phi0 = amax * (2.0 * u[1] - 1.0)
    p = gun.p_min_gev + (gun.p_max_gev - gun.p_min_gev) * u[2]
    q = np.where(u[3] < 0.5, -1, 1) if gun.charge == 0 else np.full(n, gun.charge)
    q = q.astype(np.int32)
    field = 0.0 if gun.straight else float(gun.field_tesla)
    kappa = curvature(p, q, field) if field != 0.0 else np.zeros(n)
    return TrackStates(x0, y0, phi0, p, q, kappa)


# --------------------------------------------------------------------------- geometry of a track


def layer_crossings(
    tracks: TrackStates, layer_x: np.ndarray, stop_angle_rad: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Crossings of every track with every layer plane ``x = layer_x[l]``.

    Returns ``(track, layer, y, phi)`` of the crossings that exist on the followed part
    of the trajectory (``|phi| <= stop_angle_rad`` all the way, the plane ahead of the
    entry point). The chord from the entry point to the crossing has the mean direction
    ``(phi0 + phi) / 2``, which gives ``y`` without cancellation for small curvature.
    """
    dx = layer_x[None, :] - tracks.x0[:, None]
    sin_phi = np.sin(tracks.phi0)[:, None] + tracks.kappa[:, None] * dx
    ok = (np.abs(sin_phi) <= math.sin(stop_angle_rad)) & (dx > 0)
    track, layer = np.nonzero(ok)
    phi = np.arcsin(sin_phi[track, layer])
    y = tracks.y0[track] + dx[track, layer] * np.tan(0.5 * (tracks.phi0[track] + phi))
    return track.astype(np.int64), layer.astype(np.int64), y, phi


def closest_approach(
    px: np.ndarray,
    py: np.ndarray,
    phi: np.ndarray,
    kappa: np.ndarray,
    sx: np.ndarray,
    sy: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Closest approach of the circle (or line) through ``(px, py)`` with direction
    ``phi`` and curvature ``kappa`` to the points ``(sx, sy)``.

    Returns ``(dca, qx, qy, phi_q)``: the distance (mm), the closest point of the
    trajectory and the direction there. Written in the local frame of the given point
    (``a`` along, ``b`` to the left), the distance is
    ``|kappa (a^2 + b^2) - 2 b| / (1 + sqrt(1 - 2 b kappa + kappa^2 (a^2 + b^2)))``,
    exact for circles and equal to ``|b|`` for a line, without cancellation.
    """
    c, s = np.cos(phi), np.sin(phi)
    dxs, dys = sx - px, sy - py
    a = dxs * c + dys * s
    b = -dxs * s + dys * c
    rho2 = a * a + b * b
    g = np.sqrt(np.maximum(1.0 - 2.0 * b * kappa + kappa * kappa * rho2, 0.0))
    h = (kappa * rho2 - 2.0 * b) / (1.0 + g)  # signed distance |S - C| - |R|, times sign(kappa)
    dca = np.abs(h)
    # Q - S = -h * (kappa a t + (kappa b - 1) n) / g, in the local frame (t, n).
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(g > 0, -h / g, 0.0)
    qa = a + scale * kappa * a
    qb = b + scale * (kappa * b - 1.0)
    qx = px + qa * c - qb * s
    qy = py + qa * s + qb * c
    phi_q = phi + np.arctan2(kappa * qa, 1.0 - kappa * qb)
    return dca, qx, qy, phi_q


class TrueHits(NamedTuple):
    """Straws crossed by tracks: the track index, the straw id, the DCA (mm), the
    closest point ``(tx, ty)`` and the momentum there ``(tpx, tpy)`` (GeV)."""

    track: np.ndarray
    straw_id: np.ndarray
    dca: np.ndarray
    tx: np.ndarray
    ty: np.ndarray
    tpx: np.ndarray
    tpy: np.ndarray


def _module_states(
    tracks: TrackStates, geometry: StrawGeometry, field_factor: np.ndarray, stop_angle_rad: float
) -> list[tuple[TrackStates, np.ndarray]]:
    """Each track's state where the field of each module begins (half-way between two
    modules; the entry point for the first), with that module's curvature, and whether
    it is still followed there."""
    per = geometry.layers_per_module
    first, last = geometry.layer_x[::per], geometry.layer_x[per - 1 :: per]
    starts = np.concatenate([[-np.inf], 0.5 * (last[:-1] + first[1:])])
    x, y, phi = tracks.x0, tracks.y0, tracks.phi0
    alive = np.ones(len(x), dtype=bool)
    kappa = tracks.kappa * field_factor[0]
    states = []
    for m in range(geometry.n_modules):
        if m:
            dx = np.maximum(starts[m] - x, 0.0)
            sin_phi = np.sin(phi) + kappa * dx
            alive &= np.abs(sin_phi) <= math.sin(stop_angle_rad)
            turned = np.arcsin(np.clip(sin_phi, -1.0, 1.0))
            x, y, phi = x + dx, y + dx * np.tan(0.5 * (phi + turned)), turned
            kappa = tracks.kappa * field_factor[m]
        states.append((TrackStates(x, y, phi, tracks.p, tracks.q, kappa), alive.copy()))
    return states


def _detector_crossings(
    tracks: TrackStates, geometry: StrawGeometry, field_factor: np.ndarray, stop_angle_rad: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`layer_crossings` in a field constant within each module: ``(track, layer, y,
    phi, kappa)``, sorted by track, then layer."""
    per = geometry.layers_per_module
    parts = []
    for m, (state, alive) in enumerate(
        _module_states(tracks, geometry, field_factor, stop_angle_rad)
    ):
        track, layer, y, phi = layer_crossings(
            state, geometry.layer_x[m * per : (m + 1) * per], stop_angle_rad
        )
        keep = alive[track]
        track, layer, y, phi = track[keep], layer[keep] + m * per, y[keep], phi[keep]
        parts.append((track, layer, y, phi, state.kappa[track]))
    track, layer, y, phi, kappa = (np.concatenate(column) for column in zip(*parts, strict=True))
    order = np.lexsort((layer, track))
    return track[order], layer[order], y[order], phi[order], kappa[order]


def straw_crossings(
    tracks: TrackStates,
    geometry: StrawGeometry,
    stop_angle_deg: float,
    detector: BuiltDetector | None = None,
) -> TrueHits:
    """Every straw whose centre lies within the straw radius of a track's trajectory.

    ``detector`` (None: the design) moves the straw centres and sets the field of each
    module. Sorted by track, then global layer, then straw.
    """
    stop = math.radians(stop_angle_deg)
    if detector is None:
        track, layer, y, phi = layer_crossings(tracks, geometry.layer_x, stop)
        kappa = tracks.kappa[track]
        reach = 0.0
    else:
        track, layer, y, phi, kappa = _detector_crossings(
            tracks, geometry, detector.field_factor, stop
        )
        reach = float(np.max(np.abs(detector.straw_dy), initial=0.0))
    r = geometry.straw_radius_mm
    pitch = geometry.pitch_mm
    half = r / np.cos(phi) + _CANDIDATE_MARGIN_MM + reach
    y0 = geometry.layer_y0[layer]
    lo = np.maximum(np.ceil((y - half - y0) / pitch), 0).astype(np.int64)
    hi = np.minimum(np.floor((y + half - y0) / pitch), geometry.straws_per_layer - 1).astype(
        np.int64
    )
    count = np.maximum(hi - lo + 1, 0)
    crossing = np.repeat(np.arange(len(track)), count)
    starts = np.cumsum(count) - count
    straw = lo[crossing] + (np.arange(len(crossing)) - starts[crossing])
    t = track[crossing]
    sid = layer[crossing] * geometry.straws_per_layer + straw
    straw_y = geometry.straw_y[sid]
    if detector is not None:
        straw_y = straw_y + detector.straw_dy[sid]
    dca, qx, qy, phi_q = closest_approach(
        geometry.layer_x[layer[crossing]],
        y[crossing],
        phi[crossing],
        kappa[crossing],
        geometry.straw_x[sid],
        straw_y,
    )
    keep = (dca < r) & (np.abs(phi_q) <= stop) & (qx >= tracks.x0[t])
    t, sid, dca, qx, qy, phi_q = t[keep], sid[keep], dca[keep], qx[keep], qy[keep], phi_q[keep]
    p = tracks.p[t]
    return TrueHits(t, sid.astype(np.int64), dca, qx, qy, p * np.cos(phi_q), p * np.sin(phi_q))
