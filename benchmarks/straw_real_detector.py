"""The "real" straw detector against the nominal one, and its library selected without truth.

Usage: ``python benchmarks/straw_real_detector.py [--events N] [--late-events N]
[--align-events N]``. Prints one JSON line: the baseline's straw metrics on nominal events
and on production events of the "real" detector (evaluated with their truth), built at the
design positions, at the straw alignment from ``--align-events`` late events (without
truth) and at the true offsets; the alignment's figures against the true offsets; the
purity of the library selected by fit from late-in-fill production events (checked
against their truth file), the accuracy of its fitted positions and momenta, and the
seconds each step took.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from _common import emit
from tracknet.augment.fit_selection import fit_selected_tracks
from tracknet.augment.library import LibraryCriteria
from tracknet.building.straw import StrawBuildConfig, build_straw_batch
from tracknet.building.straw.align import estimate_alignment, weak_modes_removed
from tracknet.building.straw.alignment import StrawAlignment
from tracknet.evaluation.straw import evaluate_straw
from tracknet.simulation.straw import (
    REAL_DETECTOR,
    Occupancy,
    StrawBatch,
    StrawConfig,
    StrawGeometry,
    TrackGun,
    simulate_straw_batch,
)
from tracknet.simulation.straw.conditions import REAL_RESPONSE

METRICS = ("precision_on_found_tracks", "wrong_hit_fraction", "found_fraction", "split_fraction")
REAL = StrawConfig(conditions=REAL_DETECTOR, response=REAL_RESPONSE)


def _metrics(batch: StrawBatch, config: StrawBuildConfig | None = None) -> dict[str, float]:
    submission = build_straw_batch(
        batch, StrawGeometry(), "baseline", config=config or StrawBuildConfig()
    )
    truth = pd.DataFrame(
        {c: batch.hits[c] for c in ("event_id", "hit_id", "particle_id", "weight")}
    )
    summary = evaluate_straw(truth, submission).summary
    return {k: round(float(summary[k]), 4) for k in METRICS}  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--late-events", type=int, default=20000)
    parser.add_argument("--align-events", type=int, default=100000)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    out: dict[str, object] = {}
    for name, config in (("nominal", StrawConfig()), ("real", REAL)):
        started = time.perf_counter()
        out[name] = _metrics(simulate_straw_batch(config, args.events, args.seed))
        out[f"{name}_seconds"] = round(time.perf_counter() - started, 2)
    late = replace(
        REAL, occupancy=Occupancy(mean=8.0, time_in_fill_us=150.0, time_in_fill_max_us=300.0)
    )
    # The alignment, from late events of their own seed, without truth.
    geometry = StrawGeometry()
    started = time.perf_counter()
    alignment = estimate_alignment(
        simulate_straw_batch(late, args.align_events, args.seed + 27).without_labels(), geometry
    )
    align_seconds = time.perf_counter() - started
    production = simulate_straw_batch(REAL, args.events, args.seed)
    true_dy = REAL_DETECTOR.build(geometry).straw_dy
    with tempfile.TemporaryDirectory() as tmp:
        path = alignment.save(Path(tmp) / "alignment.json")
        out["real_aligned"] = _metrics(production, StrawBuildConfig(alignment=str(path)))
        oracle = StrawAlignment(true_dy, geometry.to_dict())
        out["real_true_offsets"] = _metrics(
            production, StrawBuildConfig(alignment=str(oracle.save(Path(tmp) / "true.json")))
        )
    measured = (alignment.straw_dy_mm != 0).astype(np.float64)
    expected = weak_modes_removed(true_dy, geometry.straw_x, measured)
    error = weak_modes_removed(alignment.straw_dy_mm - true_dy, geometry.straw_x, measured)
    on = measured > 0
    # What is left once offsets smooth across the tracker (up to x^2 y^2) are taken out.
    u = (geometry.straw_x - geometry.straw_x[on].mean()) / np.ptp(geometry.straw_x[on])
    v = (geometry.straw_y - geometry.straw_y[on].mean()) / np.ptp(geometry.straw_y[on])
    smooth = np.stack([u**i * v**j for i in range(3) for j in range(3)], axis=1)
    coef, *_ = np.linalg.lstsq(smooth[on], (alignment.straw_dy_mm - true_dy)[on], rcond=None)
    rough = (alignment.straw_dy_mm - true_dy - smooth @ coef)[on]
    out["alignment"] = {
        "late_events": args.align_events,
        "tracks": alignment.meta["tracks"],
        "straws_aligned": alignment.meta["straws_aligned"],
        "residual_rms_mm_before": alignment.meta["rounds"][0]["residual_rms_mm_before"],
        "residual_rms_mm_after": alignment.meta["rounds"][-1]["residual_rms_mm_after"],
        "true_offset_rms_mm": round(float(np.sqrt(np.mean(expected[on] ** 2))), 4),
        "error_rms_mm": round(float(np.sqrt(np.mean(error[on] ** 2))), 4),
        "error_rms_mm_less_smooth": round(float(np.sqrt(np.mean(rough**2))), 4),
        "seconds": round(align_seconds, 1),
    }
    labelled = simulate_straw_batch(late, args.late_events, args.seed + 27)
    started = time.perf_counter()
    rows, entries, fitted = fit_selected_tracks(
        labelled.without_labels(),
        StrawGeometry(),
        TrackGun().field_tesla,
        min_hits=LibraryCriteria().min_hits,
        max_other_hits=LibraryCriteria().max_other_hits,
        max_fit_rms_mm=LibraryCriteria().max_fit_rms_mm,
    )
    seconds = time.perf_counter() - started
    pid, event = labelled.hits["particle_id"][rows], labelled.hits["event_id"][rows]
    # Each selected track's most frequent particle, per hit.
    mode = pd.Series(pid).groupby(event).transform(lambda p: p.mode().iloc[0]).to_numpy()
    foreign = pid != mode
    p_true = np.hypot(labelled.hits["tpx"][rows], labelled.hits["tpy"][rows])
    moving = (pid > 0) & (p_true > 0)
    p_fit = np.hypot(fitted["tpx"], fitted["tpy"])
    out["library"] = {
        "late_events": args.late_events,
        "tracks": len(entries),
        "one_particle_fraction": round(
            1.0
            - float(
                np.bincount(np.unique(event, return_inverse=True)[1], foreign).astype(bool).mean()
            ),
            4,
        ),
        "foreign_hit_fraction": round(float(foreign.mean()), 5),
        "median_position_error_mm": round(
            float(np.median(np.abs(fitted["ty"] - labelled.hits["ty"][rows])[pid > 0])), 3
        ),
        "median_momentum_error": round(
            float(np.median(np.abs(p_fit[moving] / p_true[moving] - 1))), 4
        ),
        "selection_seconds": round(seconds, 2),
    }
    emit("straw_real_detector", {"events": args.events, "seed": args.seed, **out})


if __name__ == "__main__":
    main()
