"""Seeds: the first one, two or three hits of track candidates, from the innermost layers.

A :class:`SeedStage` names the ``(volume_id, layer_id)`` lists where a seed's hits may lie
and the cuts its pairs and triplets must pass; :func:`find_seeds` returns the seeds of one
stage as an ``(S, m)`` array of hit rows in lexicographic order (deterministic). The
layers' shapes are read off the hits, so any TrackML-like detector is seeded alike.

See docs/seeding.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np

from ..errors import ConfigError, DataError
from .geometry import LayerSurfaces, layer_keys
from .module_map import ModuleMap, load_module_map, module_keys, pair_dphi, pair_z0
from .search import HitIndex
from .stages import DEFAULT_SEED_STAGES, SEED_KINDS, LayerId, SeedStage
from .windows import ragged_ranges, window_pairs_2d

__all__ = [
    "DEFAULT_SEED_STAGES",
    "PT_PER_TESLA_METRE",
    "SEED_KINDS",
    "LayerId",
    "SeedStage",
    "curvature_from_pt",
    "find_ranked_seeds",
    "find_seeds",
    "seed_parts",
]

#: pT [GeV] = PT_PER_TESLA_METRE * B [T] * R [m].
PT_PER_TESLA_METRE = 0.299792458


def curvature_from_pt(pt_gev: float, field_tesla: float) -> float:
    """The curvature (1/mm) of a track of transverse momentum ``pt_gev`` in ``field_tesla``."""
    return PT_PER_TESLA_METRE * field_tesla / (1000.0 * pt_gev)


# --------------------------------------------------------------------------- helpers


def _circle_curvature(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Unsigned curvature (1/mm) of the circle through three points in the plane ``(n, 2)``."""
    ab = np.hypot(b[:, 0] - a[:, 0], b[:, 1] - a[:, 1])
    bc = np.hypot(c[:, 0] - b[:, 0], c[:, 1] - b[:, 1])
    ca = np.hypot(a[:, 0] - c[:, 0], a[:, 1] - c[:, 1])
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    denom = ab * bc * ca
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, 2.0 * np.abs(cross) / np.where(denom > 0, denom, 1.0), np.inf)


def _d0(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Distance (mm) of closest approach to the origin of the circle (or line) through a, b, c."""
    # Circumcentre from the perpendicular bisectors.
    d = 2.0 * (
        a[:, 0] * (b[:, 1] - c[:, 1])
        + b[:, 0] * (c[:, 1] - a[:, 1])
        + c[:, 0] * (a[:, 1] - b[:, 1])
    )
    a2, b2, c2 = (np.einsum("ij,ij->i", p, p) for p in (a, b, c))
    ok = np.abs(d) > 1e-12
    safe = np.where(ok, d, 1.0)
    ux = (a2 * (b[:, 1] - c[:, 1]) + b2 * (c[:, 1] - a[:, 1]) + c2 * (a[:, 1] - b[:, 1])) / safe
    uy = (a2 * (c[:, 0] - b[:, 0]) + b2 * (a[:, 0] - c[:, 0]) + c2 * (b[:, 0] - a[:, 0])) / safe
    radius = np.hypot(a[:, 0] - ux, a[:, 1] - uy)
    circle = np.abs(np.hypot(ux, uy) - radius)
    # Collinear points: distance of the origin from the line through a and c.
    direction = c - a
    norm = np.linalg.norm(direction, axis=1)
    line = np.abs(a[:, 0] * direction[:, 1] - a[:, 1] * direction[:, 0]) / np.where(
        norm > 0, norm, 1.0
    )
    d0: np.ndarray = np.where(ok, circle, line)
    return d0


def _members(keys: np.ndarray, layers: Iterable[LayerId], available: np.ndarray) -> np.ndarray:
    wanted = layer_keys(*np.array(list(layers), dtype=np.int64).reshape(-1, 2).T)
    return np.flatnonzero(np.isin(keys, wanted) & available)


# --------------------------------------------------------------------------- seeds


def _pairs(
    positions: np.ndarray,
    keys: np.ndarray,
    surfaces: LayerSurfaces,
    first: np.ndarray,
    stage: SeedStage,
    available: np.ndarray,
    kappa_max: float,
    module: np.ndarray | None = None,
    module_map: ModuleMap | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Pairs (first hit, second hit) that pass :func:`_pair_cuts`: with a module map,
    every available hit of a module the map connects after the first hit's (on a
    ``second`` layer), with the map's row of their modules' connection; otherwise
    searched in windows, one ``second`` layer at a time (no rows: ``None``)."""
    if module is not None and module_map is not None and _pairs_from_map(stage):
        i1, i2, connection = _map_pairs(keys, first, stage, available, module, module_map)
        keep = _pair_cuts(positions, keys, i1, i2, stage, kappa_max)
        return i1[keep], i2[keep], connection[keep]
    x, y, z = positions[:, 0], positions[:, 1], positions[:, 2]
    r = np.hypot(x, y)
    phi = np.arctan2(y, x)
    out1: list[np.ndarray] = []
    out2: list[np.ndarray] = []
    r1, z1 = r[first], z[first]
    for volume, layer in stage.second:
        key = int(layer_keys(np.array([volume]), np.array([layer]))[0])
        row = int(surfaces.index_of(np.array([key]))[0])
        targets = np.flatnonzero((keys == key) & available)
        if row < 0 or len(targets) == 0 or len(first) == 0:
            continue
        # The window along the layer: z on a cylinder, r on a disk, where lines from the
        # beam line (|z0| <= Z0) through the first hit cross it (everything without Z0).
        lo = np.full(len(first), -np.inf)
        hi = np.full(len(first), np.inf)
        if stage.max_z0_mm is not None:
            z0 = np.array([-stage.max_z0_mm, stage.max_z0_mm])[:, None]
            spread = surfaces.spread[row]
            if surfaces.barrel[row]:
                rho = surfaces.position[row]
                cross = z0 + (z1 - z0) * rho / r1  # z at r = rho, for both ends of the window
                slope = np.abs(z1 - z0).max(axis=0) / r1  # |dz/dr| of the steepest line
                margin = slope * spread + 1.0  # hits lie up to `spread` off the nominal radius
                lo, hi = cross.min(axis=0) - margin, cross.max(axis=0) + margin
            else:
                zeta = surfaces.position[row]
                with np.errstate(divide="ignore", invalid="ignore"):
                    cross = r1 * (zeta - z0) / (z1 - z0)  # r at z = zeta
                    margin = spread * r1 / np.abs(z1 - z0).min(axis=0) + 1.0
                through = np.sign(z1 - z0[0]) != np.sign(z1 - z0[1])  # z0 window holds z1
                valid = np.isfinite(cross) & (cross > 0)
                hi = np.where(through, np.inf, np.where(valid, cross, -np.inf).max(axis=0) + margin)
                lo = np.where(valid, cross, np.inf).min(axis=0) - margin
                lo = np.where(through, np.minimum(lo, r1), lo)
            lo = np.where(np.isnan(lo), -np.inf, lo)
            hi = np.where(np.isnan(hi), np.inf, hi)
        reach = (hi >= (z[targets] if surfaces.barrel[row] else r[targets]).min()) & (
            lo <= (z[targets] if surfaces.barrel[row] else r[targets]).max()
        )
        query = first[reach]
        half = np.full(len(query), stage.max_delta_phi)
        if stage.beamline and np.isfinite(kappa_max):
            r2_max = float(r[targets].max())
            bound = np.arcsin(np.minimum(1.0, kappa_max * r2_max / 2.0)) - np.arcsin(
                np.minimum(1.0, kappa_max * r[query] / 2.0)
            )
            half = np.minimum(half, np.maximum(bound, 0.0) + 1e-9)
        along = z[targets] if surfaces.barrel[row] else r[targets]
        owner, target = window_pairs_2d(phi[query], half, lo[reach], hi[reach], phi[targets], along)
        out1.append(query[owner])
        out2.append(targets[target])
    if not out1:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, None
    i1, i2 = np.concatenate(out1), np.concatenate(out2)
    keep = _pair_cuts(positions, keys, i1, i2, stage, kappa_max)
    return i1[keep], i2[keep], None


def _pairs_from_map(stage: SeedStage) -> bool:
    """Whether a map stage takes its pairs from the map: without a ``z0`` window the layer
    windows would span whole layers."""
    return stage.max_z0_mm is None


def _map_pairs(
    keys: np.ndarray,
    first: np.ndarray,
    stage: SeedStage,
    available: np.ndarray,
    module: np.ndarray,
    module_map: ModuleMap,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (first hit, available ``second``-layer hit of a module connected after the
    first hit's module), as flat row arrays, with the row of the map's pair of modules."""
    targets = _members(keys, stage.second, available)
    targets = targets[module[targets] >= 0]
    targets = targets[np.argsort(module[targets], kind="stable")]
    edges = np.searchsorted(module[targets], np.arange(module_map.n_modules + 1))
    owner, connection = module_map.successor_pairs(module[first])
    successor = module_map.pairs[connection, 1]
    pair, target = ragged_ranges(edges[successor], edges[successor + 1])
    return first[owner[pair]], targets[target], connection[pair]


def _pair_cuts(
    positions: np.ndarray,
    keys: np.ndarray,
    i1: np.ndarray,
    i2: np.ndarray,
    stage: SeedStage,
    kappa_max: float,
) -> np.ndarray:
    """Which pairs pass: different layers, ``min_delta_r_mm``, ``max_delta_phi``,
    ``max_z0_mm`` and, from the beam line, the curvature bound."""
    r = np.hypot(positions[:, 0], positions[:, 1])
    phi = np.arctan2(positions[:, 1], positions[:, 0])
    z = positions[:, 2]
    # Each cut is computed only on the pairs that passed the ones before.
    dr = r[i2] - r[i1]
    on = np.flatnonzero((keys[i1] != keys[i2]) & (dr >= max(stage.min_delta_r_mm, 1e-9)))
    a, b = i1[on], i2[on]
    step = np.abs(np.remainder(phi[b] - phi[a] + np.pi, 2 * np.pi) - np.pi)
    passed = step <= stage.max_delta_phi
    on, a, b = on[passed], a[passed], b[passed]
    if stage.max_z0_mm is not None:
        z0 = z[a] - r[a] * (z[b] - z[a]) / dr[on]
        passed = np.abs(z0) <= stage.max_z0_mm
        on, a, b = on[passed], a[passed], b[passed]
    if stage.beamline and np.isfinite(kappa_max):
        origin = np.zeros((len(a), 2))
        passed = _circle_curvature(origin, positions[a, :2], positions[b, :2]) <= kappa_max
        on = on[passed]
    keep = np.zeros(len(i1), dtype=bool)
    keep[on] = True
    return keep


def _connected_pairs(
    positions: np.ndarray,
    module: np.ndarray,
    i1: np.ndarray,
    i2: np.ndarray,
    stage: SeedStage,
    module_map: ModuleMap,
    row: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Which pairs join modules the map connects (and, with the stage's map margins, lie
    within the azimuth step and ``z0`` range the map observed for that connection), and
    the map's row of each pair's connection (-1: none); ``row`` when already known."""
    if row is None:
        row = module_map.pair_index(module[i1], module[i2])
    keep = row >= 0
    safe = np.where(keep, row, 0)
    if stage.map_dphi_margin is not None and len(row):
        step = pair_dphi(positions[i1], positions[i2])
        margin = stage.map_dphi_margin
        keep &= (step >= module_map.dphi_low[safe] - margin) & (
            step <= module_map.dphi_high[safe] + margin
        )
    if stage.map_z0_margin_mm is not None and len(row):
        z0 = pair_z0(positions[i1], positions[i2])
        low, high = module_map.z0_low[safe], module_map.z0_high[safe]
        margin = stage.map_z0_margin_mm
        with np.errstate(invalid="ignore"):
            keep &= np.isnan(low) | ((z0 >= low - margin) & (z0 <= high + margin))
    return keep, row


def _triplets(
    positions: np.ndarray,
    keys: np.ndarray,
    surfaces: LayerSurfaces,
    i1: np.ndarray,
    i2: np.ndarray,
    stage: SeedStage,
    available: np.ndarray,
    kappa_max: float,
    workers: int,
    third_mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Extend pairs by a third hit near the point the pair predicts on each third layer;
    with ``third_mask`` (bit ``i`` per pair: ``stage.third[i]`` may hold its third hit),
    only on the layers it allows. Returns the three rows and the third hit's distance
    (mm) from the predicted point."""
    x, y, z = positions[:, 0], positions[:, 1], positions[:, 2]
    r = np.hypot(x, y)
    phi = np.arctan2(y, x)
    third = np.flatnonzero(
        np.isin(keys, layer_keys(*np.array(stage.third, dtype=np.int64).reshape(-1, 2).T))
        & available
    )
    empty = np.zeros(0, dtype=np.int64)
    if len(third) == 0 or len(i1) == 0:
        return empty, empty, empty, np.zeros(0)
    # In the transverse plane the pair continues on its circle through the origin (signed
    # curvature, initial direction) or, without the beam-line assumption, straight on.
    a, b = positions[i1, :2], positions[i2, :2]
    if stage.beamline:
        cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
        denom = r[i1] * r[i2] * np.linalg.norm(b - a, axis=1)
        kappa = 2.0 * cross / np.where(denom > 0, denom, 1.0)
    else:
        kappa = np.zeros(len(i1))
    direction = phi[i1] - np.arcsin(np.clip(kappa * r[i1] / 2.0, -1.0, 1.0))
    step = b - a
    unit = step / np.maximum(np.linalg.norm(step, axis=1), 1e-12)[:, None]
    along = np.einsum("ij,ij->i", b, unit)
    dz, dr = z[i2] - z[i1], r[i2] - r[i1]
    centres: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    layer_of_query: list[np.ndarray] = []
    r2, z2 = r[i2], z[i2]
    for index, (volume, layer) in enumerate(stage.third):
        key = int(layer_keys(np.array([volume]), np.array([layer]))[0])
        row = int(surfaces.index_of(np.array([key]))[0])
        if row < 0:
            continue
        # The pairs that may continue on this layer (all, without a mask: no copies).
        cand = None
        dz_c, dr_c, r2_c, z2_c, kappa_c = dz, dr, r2, z2, kappa
        if third_mask is not None:
            cand = np.flatnonzero((third_mask >> np.uint64(index)) & np.uint64(1))
            dz_c, dr_c, r2_c, z2_c, kappa_c = dz[cand], dr[cand], r2[cand], z2[cand], kappa[cand]
        margin = stage.max_triplet_distance_mm
        if surfaces.barrel[row]:
            r3 = np.full(len(dz_c), surfaces.position[row])
            z3 = z2_c + dz_c / dr_c * (r3 - r2_c)
            ok = (z3 >= surfaces.low[row] - margin) & (z3 <= surfaces.high[row] + margin)
        else:
            z3 = np.full(len(dz_c), surfaces.position[row])
            with np.errstate(divide="ignore", invalid="ignore"):
                r3 = r2_c + dr_c / dz_c * (z3 - z2_c)
            ok = (
                ((z3 - z2_c) * dz_c > 0)
                & (r3 >= surfaces.low[row] - margin)
                & (r3 <= surfaces.high[row] + margin)
            )
        with np.errstate(invalid="ignore"):  # r3 is inf where a segment runs parallel to a disk
            ok &= (
                np.isfinite(r3) & (r3 - r2_c >= stage.min_delta_r_mm) & (np.abs(kappa_c * r3) < 2.0)
            )
        passing = np.flatnonzero(ok)
        sel = passing if cand is None else cand[passing]
        r3, z3 = r3[passing], z3[passing]
        if stage.beamline:
            phi3 = direction[sel] + np.arcsin(kappa[sel] * r3 / 2.0)
            xy = np.column_stack([r3 * np.cos(phi3), r3 * np.sin(phi3)])
        else:
            # The point of the straight line b + t * unit (t > 0) at radius r3.
            t = -along[sel] + np.sqrt(np.maximum(along[sel] ** 2 - r2[sel] ** 2 + r3**2, 0.0))
            xy = b[sel] + t[:, None] * unit[sel]
        centres.append(np.column_stack([xy, z3]))
        owners.append(sel)
        layer_of_query.append(np.full(len(sel), key, dtype=np.int64))
    if not owners:
        return empty, empty, empty, np.zeros(0)
    centre = np.concatenate(centres)
    owner = np.concatenate(owners)
    query_layer = np.concatenate(layer_of_query)
    found = HitIndex(positions[third], workers=workers).nearest(
        centre, stage.max_triplet_distance_mm, stage.max_third_hits
    )
    j3 = third[found.hit]
    keep = keys[j3] == query_layer[found.query]
    j1, j2, j3 = i1[owner[found.query[keep]]], i2[owner[found.query[keep]]], j3[keep]
    miss = found.distance[keep]
    if stage.max_theta_change is not None:
        theta12 = np.arctan2(r[j2] - r[j1], z[j2] - z[j1])
        theta23 = np.arctan2(r[j3] - r[j2], z[j3] - z[j2])
        keep = np.abs(theta23 - theta12) <= stage.max_theta_change
        j1, j2, j3, miss = j1[keep], j2[keep], j3[keep], miss[keep]
    pa, pb, pc = positions[j1, :2], positions[j2, :2], positions[j3, :2]
    if np.isfinite(kappa_max):
        keep = _circle_curvature(pa, pb, pc) <= kappa_max
        j1, j2, j3, miss = j1[keep], j2[keep], j3[keep], miss[keep]
        pa, pb, pc = pa[keep], pb[keep], pc[keep]
    if stage.max_d0_mm is not None:
        keep = _d0(pa, pb, pc) <= stage.max_d0_mm
        j1, j2, j3, miss = j1[keep], j2[keep], j3[keep], miss[keep]
    return j1, j2, j3, miss


def _sorted_rows(
    columns: list[np.ndarray], miss: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Seeds sorted lexicographically, duplicates removed (the smallest ``miss`` kept,
    zeros without one)."""
    seeds = (
        np.column_stack(columns).astype(np.int64)
        if columns[0].size
        else np.zeros((0, len(columns)), np.int64)
    )
    if len(seeds) == 0:
        return seeds, np.zeros(0)
    miss = np.zeros(len(seeds)) if miss is None else miss
    order = np.argsort(miss, kind="stable")  # the first of duplicates is the nearest
    unique, first = np.unique(seeds[order], axis=0, return_index=True)
    return unique, miss[order][first]


def find_seeds(
    positions: np.ndarray,
    volume_id: np.ndarray,
    layer_id: np.ndarray,
    stage: SeedStage,
    *,
    field_tesla: float = 2.0,
    available: np.ndarray | None = None,
    surfaces: LayerSurfaces | None = None,
    workers: int = 1,
    module_id: np.ndarray | None = None,
    module_map: ModuleMap | None = None,
) -> np.ndarray:
    """Seeds of one stage: an ``(S, m)`` int64 array of hit row indices, sorted by row
    (the seeds of :func:`find_ranked_seeds`, same options)."""
    return find_ranked_seeds(
        positions, volume_id, layer_id, stage, field_tesla=field_tesla, available=available,
        surfaces=surfaces, workers=workers, module_id=module_id, module_map=module_map,
    )[0]  # fmt: skip


def find_ranked_seeds(
    positions: np.ndarray,
    volume_id: np.ndarray,
    layer_id: np.ndarray,
    stage: SeedStage,
    *,
    field_tesla: float = 2.0,
    available: np.ndarray | None = None,
    surfaces: LayerSurfaces | None = None,
    workers: int = 1,
    module_id: np.ndarray | None = None,
    module_map: ModuleMap | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Seeds of one stage, an ``(S, m)`` int64 array of hit row indices sorted by row, and
    how far (mm) each triplet's third hit lies from the point its pair predicts (zeros
    for pairs and single hits).

    ``positions`` ``(N, 3)`` mm; ``volume_id``/``layer_id`` ``(N,)``; ``available`` (bool
    ``(N,)``, default all) marks the hits that may be used (e.g. those not yet assigned);
    ``field_tesla`` converts ``min_pt_gev`` into a curvature; ``surfaces`` (derived from
    all hits when not given) places the layers; ``workers`` goes to the k-d tree queries.
    A stage with a ``module_map`` forms pairs and triplets only between the modules the map
    connects; it needs ``module_id`` ``(N,)`` and reads the map from the stage's path
    unless ``module_map`` is given.
    """
    positions = np.asarray(positions, dtype=np.float64)
    n = len(positions)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise DataError(f"hit positions must have shape (N, 3), got {positions.shape}")
    if (
        isinstance(field_tesla, bool)
        or not isinstance(field_tesla, (int, float))
        or not (math.isfinite(field_tesla) and field_tesla > 0)
    ):
        raise ConfigError(f"field_tesla must be a finite number > 0, got {field_tesla!r}")
    keys = layer_keys(volume_id, layer_id)
    if keys.shape != (n,):
        raise DataError(f"volume_id and layer_id must have shape ({n},), got {keys.shape}")
    available = np.ones(n, dtype=bool) if available is None else np.asarray(available, dtype=bool)
    if available.shape != (n,):
        raise DataError(f"available must have shape ({n},), got {available.shape}")
    first = _members(keys, stage.first, available)
    if stage.kind == "single":
        return first.reshape(-1, 1).astype(np.int64), np.zeros(len(first))
    if surfaces is None:
        surfaces = LayerSurfaces.from_hits(positions, volume_id, layer_id)
    kappa_max = (
        curvature_from_pt(stage.min_pt_gev, field_tesla) if stage.min_pt_gev is not None else np.inf
    )
    module: np.ndarray | None = None
    if stage.module_map is not None:
        if module_map is None:
            module_map = load_module_map(stage.module_map)
        if module_id is None:
            raise DataError("a seed stage with a module map needs the hits' module_id")
        module_id = np.asarray(module_id)
        if module_id.shape != (n,):
            raise DataError(f"module_id must have shape ({n},), got {module_id.shape}")
        module = module_map.module_index(module_keys(volume_id, layer_id, module_id))
        first = first[module[first] >= 0]
    i1, i2, connection = _pairs(
        positions, keys, surfaces, first, stage, available, kappa_max, module, module_map
    )
    margins = stage.map_dphi_margin is not None or stage.map_z0_margin_mm is not None
    if module is not None and module_map is not None and (connection is None or margins):
        # Window pairs are looked up in the map; pairs taken from it are connected (their
        # rows known) and checked only against the map's margins.
        keep, connection = _connected_pairs(
            positions, module, i1, i2, stage, module_map, connection
        )
        i1, i2, connection = i1[keep], i2[keep], connection[keep]
    if stage.kind == "pair":
        return _sorted_rows([i1, i2])
    third_mask = None
    if module_map is not None and connection is not None and len(stage.third) <= 64:
        # Only the third layers on which the map continues the pair's modules.
        third_mask = module_map.pair_third_layers(stage.third)[connection]
    j1, j2, j3, miss = _triplets(
        positions, keys, surfaces, i1, i2, stage, available, kappa_max, workers, third_mask
    )
    if module is not None and module_map is not None:
        keep = module_map.has_triplet(module[j1], module[j2], module[j3])
        j1, j2, j3, miss = j1[keep], j2[keep], j3[keep], miss[keep]
    return _sorted_rows([j1, j2, j3], miss)


def seed_parts(
    seeds: np.ndarray, miss: np.ndarray, taken: np.ndarray, passes: int
) -> Iterator[np.ndarray]:
    """The seeds of a stage in ``passes`` parts (see docs/seeding.md, "Seed passes"); each
    part after the first holds only seeds whose hits are all still free once the tracks
    of the parts before hold theirs (``taken``, updated in place by the caller)."""
    left = np.ones(len(seeds), dtype=bool)
    for part in range(1, passes):
        if seeds.shape[1] <= part or not left.any():
            break
        # The nearest seed of each distinct beginning (first hit, then first two hits).
        rows = np.flatnonzero(left)
        rows = rows[~taken[seeds[rows]].any(axis=1)]
        head = seeds[rows, :part]
        order = rows[np.lexsort((miss[rows], *head.T[::-1]))]
        lead = seeds[order, :part]
        new = np.r_[True, (lead[1:] != lead[:-1]).any(axis=1)]
        chosen = order[new]
        left[chosen] = False
        yield seeds[chosen]
    rows = np.flatnonzero(left)
    yield seeds[rows[~taken[seeds[rows]].any(axis=1)]]
