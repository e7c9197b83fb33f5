"""Seeding with and without a module map, per pT bin, on simulated full events.

A module map (:mod:`tracknet.building.module_map`, pixel volumes 7, 8, 9) is built from
``--map-events`` simulated events of seed ``--map-seed``; seeding is then measured on
``--events`` other events (seed ``--seed``, never used for the map). For every seeding
configuration (the stages run one by one on all hits, their seeds pooled) it prints one
JSON line: per pT bin (particles with at least 5 hits) the share of particles with at
least one pure seed (every seed hit theirs), the seeds per event and the seeding seconds
per event (median over events). Realistic simulation: hit efficiency 0.99, secondaries,
default noise. Also the map's coverage: the share of the test events' true consecutive
module pairs (and triplets) that the map holds.

Usage: ``python benchmarks/bench_seeding_map.py [--events 3] [--map-events 30] [--map M.npz]
[--only NAME,...]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy is imported
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import emit
from tracknet.building.module_map import ModuleMap, build_module_map
from tracknet.building.seeding import DEFAULT_SEED_STAGES, SeedStage, find_seeds
from tracknet.data.tracks import event_tracks
from tracknet.events import Event
from tracknet.simulation import SimulationConfig, event_rng, simulate_event

PT_BINS = ((0.2, 0.3), (0.3, 0.5), (0.5, 1.0), (1.0, np.inf))
PIXEL = (7, 8, 9)


def low_pt(stage: SeedStage, path: str | None, **changes: object) -> SeedStage:
    """A copy of ``stage`` seeding down to 0.2 GeV (cuts widened for multiple scattering)."""
    values: dict[str, object] = {
        "min_pt_gev": 0.2,
        "max_theta_change": 0.02,
        "max_d0_mm": 2.0,
        "max_third_hits": 4,
        "module_map": path,
    }
    values.update(changes)
    return dataclasses.replace(stage, **values)  # type: ignore[arg-type]


def configurations(path: str) -> dict[str, tuple[SeedStage, ...]]:
    s1, s2, _ = DEFAULT_SEED_STAGES
    return {
        "default_stages_1_2": (s1, s2),
        "low_pt_no_map": (low_pt(s1, None), low_pt(s2, None)),
        "low_pt_map": (low_pt(s1, path), low_pt(s2, path)),
        "low_pt_map_windows": (
            low_pt(s1, path, map_dphi_margin=0.01, map_z0_margin_mm=20.0),
            low_pt(s2, path, map_dphi_margin=0.01, map_z0_margin_mm=20.0),
        ),
    }


def particle_table(event: Event) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hit particle ids; eligible particle ids (>= 5 hits) and their pT."""
    assert event.truth is not None and event.particles is not None
    pid = event.truth["particle_id"].to_numpy(np.int64)
    ids, counts = np.unique(pid[pid != 0], return_counts=True)
    parts = event.particles.set_index("particle_id")
    pt = np.hypot(parts.loc[ids, "px"].to_numpy(), parts.loc[ids, "py"].to_numpy())
    keep = counts >= 5
    return pid, ids[keep], pt[keep]


def seeded_share(
    seeds: np.ndarray, hit_pid: np.ndarray, ids: np.ndarray, pt: np.ndarray
) -> dict[str, list[int]]:
    owner = hit_pid[seeds]
    pure = (owner == owner[:, :1]).all(axis=1) & (owner[:, 0] != 0)
    found = np.isin(ids, np.unique(owner[pure, 0]))
    out = {}
    for low, high in PT_BINS:
        in_bin = (pt >= low) & (pt < high)
        out[f"{low}-{high}"] = [int(found[in_bin].sum()), int(in_bin.sum())]
    return out


def coverage(module_map: ModuleMap, event: Event) -> tuple[float, float]:
    """Share of an event's true pixel pairs / triplets (pT >= 0.2) that the map holds."""
    truth_map = ModuleMap.from_tracks(event_tracks(event), volumes=PIXEL, min_pt_gev=0.2)
    index = module_map.module_index(truth_map.modules)
    pairs = index[truth_map.pairs]
    triplets = index[truth_map.triplets]
    pair_ok = module_map.pair_index(pairs[:, 0], pairs[:, 1]) >= 0
    triplet_ok = module_map.has_triplet(triplets[:, 0], triplets[:, 1], triplets[:, 2])
    return float(pair_ok.mean()), float(triplet_ok.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3, help="test events")
    parser.add_argument("--seed", type=int, default=2000, help="seed of the test events")
    parser.add_argument("--map-events", type=int, default=30)
    parser.add_argument("--map-seed", type=int, default=1000)
    parser.add_argument("--only", default=None, help="comma-separated configuration names")
    parser.add_argument(
        "--map", default=None, help="an existing map (.npz) instead of building one"
    )
    args = parser.parse_args()
    config = SimulationConfig(hit_efficiency=0.99).validate()
    start = time.perf_counter()
    if args.map is not None:
        module_map = ModuleMap.load(args.map)
        path = args.map
    else:
        module_map = build_module_map(
            (
                simulate_event(config, i, event_rng(args.map_seed, i))
                for i in range(args.map_events)
            ),
            volumes=PIXEL,
            meta={"simulation": dataclasses.asdict(config), "seed": args.map_seed},
        )
        path = str(module_map.save(Path(tempfile.mkdtemp()) / "map.npz"))
    map_seconds = time.perf_counter() - start
    events = [simulate_event(config, i, event_rng(args.seed, i)) for i in range(1, args.events + 1)]
    covered = [coverage(module_map, e) for e in events]
    emit(
        "seeding_module_map.map",
        {
            "map_events": module_map.meta.get("n_events"),
            "modules": module_map.n_modules,
            "pairs": module_map.n_pairs,
            "triplets": module_map.n_triplets,
            "file_bytes": Path(path).stat().st_size,
            "seconds_simulate_and_build": round(map_seconds, 2),
            "pair_coverage": round(statistics.mean(c[0] for c in covered), 4),
            "triplet_coverage": round(statistics.mean(c[1] for c in covered), 4),
        },
    )
    wanted = None if args.only is None else set(args.only.split(","))
    for name, stages in configurations(path).items():
        if wanted is not None and name not in wanted:
            continue
        totals: dict[str, list[int]] = {f"{lo}-{hi}": [0, 0] for lo, hi in PT_BINS}
        n_seeds, seconds = [], []
        for event in events:
            hits = event.hits
            positions = hits[["x", "y", "z"]].to_numpy(np.float64)
            volume = hits["volume_id"].to_numpy(np.int64)
            layer = hits["layer_id"].to_numpy(np.int64)
            module = hits["module_id"].to_numpy(np.int64)
            hit_pid, ids, pt = particle_table(event)
            found = []
            elapsed = 0.0
            for stage in stages:
                find_seeds(positions, volume, layer, stage, module_id=module)  # warm cache
                t0 = time.perf_counter()
                found.append(find_seeds(positions, volume, layer, stage, module_id=module))
                elapsed += time.perf_counter() - t0
            seeds = np.concatenate(found)
            seconds.append(elapsed)
            n_seeds.append(len(seeds))
            for key, (hit, total) in seeded_share(seeds, hit_pid, ids, pt).items():
                totals[key][0] += hit
                totals[key][1] += total
        emit(
            f"seeding_module_map.{name}",
            {
                "events": len(events),
                "share_seeded": {k: round(h / max(t, 1), 4) for k, (h, t) in totals.items()},
                "particles": {k: t for k, (_, t) in totals.items()},
                "seeds_per_event": int(statistics.mean(n_seeds)),
                "seconds_per_event": round(statistics.median(seconds), 3),
            },
        )


if __name__ == "__main__":
    main()
