"""Issue 14's claim measured: which training data makes the learned straw trackers work on
the "real" detector.

Usage: ``python benchmarks/straw_training_study.py --work DIR [--train-events N]
[--test-events N] [--quick] [--align]``. Runs the commands a user would run (``python -m
tracknet``): the "real" detector's late-in-fill and production events (truth apart), the
libraries cut from two independent late samples without truth, synthetic and
semi-synthetic training sets, TrackNET (``experiment=straw``) and the seed classifier
(``experiment=straw_seed``) each trained on (a) nominal pseudo-data, (b) synthetic events
of the real detector's isolated tracks, (c) semi-synthetic events on its production
events, and every model and the baseline built on held-out semi-synthetic events (2 and 5
overlaid tracks; library, background and seeds that no training saw; the training library
is cut from ``--late-events`` late events, the test library from 20,000 others). With
``--align`` every model and the baseline are also built at the straw alignment of the
training library's late events (``tracknet align``), and each model is also trained on
synthetic and semi-synthetic sets whose library is cut at it, its hits read at it
(``overlay --alignment``, ``data.straw.alignment``). Prints one JSON line. Outputs
already in ``--work`` (datasets, finished trainings) are reused.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import emit

METRICS = ("precision_on_found_tracks", "wrong_hit_fraction", "found_fraction", "split_fraction")
LATE = ["--tracks-mean", "8", "--time-in-fill", "150", "--time-in-fill-max", "300"]
OVERLAY_RESPONSE = ["--noise-rate", "0", "--crosstalk", "0.015"]  # backgrounds carry noise
SYNTHETIC_RESPONSE = ["--noise-rate", "0.002", "--crosstalk", "0.015"]  # the real detector's
TRAINING_SETS = ("nominal", "synthetic", "semi-synthetic")
RECIPES = {"tracknet": "straw", "seed-lstm": "straw_seed"}


def _tracknet(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tracknet", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"tracknet {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def _data(work: Path, train_events: int, test_events: int, late_events: int) -> dict[str, Path]:
    d = {name: work / name for name in ("late_a", "late_b", "prod_train", "prod_test")}
    sim = ["simulate", "straw", "--detector", "real", "--no-progress"]
    for name, events, seed, extra in (
        ("late_a", late_events, 31, LATE),
        ("late_b", 20000, 41, LATE),
        ("prod_train", train_events, 4, []),
        ("prod_test", test_events, 44, []),
    ):
        if not (d[name] / "tracknet-dataset.json").is_file():
            _tracknet(*sim, "--out", str(d[name]), "--truth-out", f"{d[name]}-truth",
                      "--events", str(events), "--seed", str(seed), *extra)  # fmt: skip
    overlays = {
        "synthetic": (["--source", str(d["late_a"])], train_events, 2, 6, SYNTHETIC_RESPONSE),
        "semi-synthetic": (
            ["--source", str(d["late_a"]), "--background", str(d["prod_train"])],
            train_events, 2, 7, OVERLAY_RESPONSE,
        ),
        "test2": (
            ["--source", str(d["late_b"]), "--background", str(d["prod_test"])],
            test_events, 2, 8, OVERLAY_RESPONSE,
        ),
        "test5": (
            ["--source", str(d["late_b"]), "--background", str(d["prod_test"])],
            test_events, 5, 9, OVERLAY_RESPONSE,
        ),
    }  # fmt: skip
    for name, (sources, events, k, seed, response) in overlays.items():
        d[name] = work / name
        if not (d[name] / "tracknet-dataset.json").is_file():
            _tracknet("overlay", *sources, "--out", str(d[name]), "--events", str(events),
                      "--tracks-per-event", str(k), "--seed", str(seed), *response,
                      "--no-progress")  # fmt: skip
    return d


def _aligned_sets(work: Path, data: dict[str, Path], alignment: Path, train_events: int) -> None:
    """The synthetic and semi-synthetic training sets of a library cut at ``alignment``."""
    library = ["--source", str(data["late_a"]), "--alignment", str(alignment)]
    for name, background, seed, response in (
        ("aligned-synthetic", [], 6, SYNTHETIC_RESPONSE),
        ("aligned-semi-synthetic", ["--background", str(data["prod_train"])], 7, OVERLAY_RESPONSE),
    ):
        data[name] = work / name
        if not (data[name] / "tracknet-dataset.json").is_file():
            _tracknet("overlay", *library, *background, "--out", str(data[name]),
                      "--events", str(train_events), "--tracks-per-event", "2",
                      "--seed", str(seed), *response, "--no-progress")  # fmt: skip


def _train(
    work: Path,
    algorithm: str,
    training: str,
    data: dict[str, Path],
    quick: bool,
    alignment: Path | None = None,
) -> Path:
    run = work / "runs" / f"{algorithm}-{training}"
    results = next(run.glob("logs/*/version_0/results.json"), None)
    if results is None:
        overrides = [
            f"experiment={RECIPES[algorithm]}",
            f"run.output_dir={run}",
            "trainer.enable_progress_bar=false",
            f"data.cache_dir={work / 'cache'}",
        ]
        if training != "nominal":
            overrides.append(f"data.dir={data[training]}")
        if alignment is not None:
            overrides.append(f"data.straw.alignment={alignment}")
        if quick:
            overrides.append("trainer.max_epochs=2")
        _tracknet("train", *overrides)
        results = next(run.glob("logs/*/version_0/results.json"))
    return Path(json.loads(results.read_text())["last_checkpoint"])


def _evaluate(
    work: Path,
    name: str,
    data: Path,
    algorithm: str,
    checkpoint: Path | None,
    config: Path | None = None,
) -> Any:
    sub = work / "subs" / f"{name}-{data.name}{'-aligned' if config else ''}.csv"
    sub.parent.mkdir(parents=True, exist_ok=True)
    args = ["build", "--data-dir", str(data), "--algorithm", algorithm, "--out", str(sub),
            "--workers", "1", "--no-progress", "--json"]  # fmt: skip
    if checkpoint is not None:
        args += ["--checkpoint", str(checkpoint)]
    if config is not None:
        args += ["--config", str(config)]
    built = json.loads(_tracknet(*args).strip().splitlines()[-1])
    figures = json.loads(
        _tracknet("evaluate", "--data-dir", str(data), "--submission", str(sub), "--json")
        .strip()
        .splitlines()[-1]
    )
    out = {k: round(float(figures[k]), 4) for k in METRICS}
    out["seconds_per_event"] = built["seconds_per_event"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--train-events", type=int, default=20000)
    parser.add_argument("--test-events", type=int, default=3000)
    parser.add_argument(
        "--late-events",
        type=int,
        default=100000,
        help="late events the training library is cut from",
    )
    parser.add_argument("--quick", action="store_true", help="2 epochs per training")
    parser.add_argument(
        "--align",
        action="store_true",
        help="also build every model at the straw alignment of the training library's "
        "late events (tracknet align)",
    )
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    data = _data(work, args.train_events, args.test_events, args.late_events)
    data_seconds = time.perf_counter() - started
    aligned: Path | None = None
    alignment: dict[str, Any] = {}
    if args.align:
        t0 = time.perf_counter()
        alignment = json.loads(
            _tracknet("align", "--data-dir", str(data["late_a"]), "--out",
                      str(work / "alignment.json"), "--no-progress", "--json")
            .strip().splitlines()[-1]
        )  # fmt: skip
        alignment["seconds"] = round(time.perf_counter() - t0, 1)
        aligned = work / "aligned.json"
        aligned.write_text(json.dumps({"alignment": str(work / "alignment.json")}))
        _aligned_sets(work, data, work / "alignment.json", args.train_events)
    rows: dict[str, Any] = {}
    train_seconds: dict[str, float] = {}
    for algorithm in RECIPES:
        for training in TRAINING_SETS:
            t0 = time.perf_counter()
            checkpoint = _train(work, algorithm, training, data, args.quick)
            train_seconds[f"{algorithm}/{training}"] = round(time.perf_counter() - t0, 1)
            rows[f"{algorithm}/{training}"] = {
                test: _evaluate(work, f"{algorithm}-{training}", data[test], algorithm, checkpoint)
                for test in ("test2", "test5")
            }
            if aligned is not None:
                rows[f"{algorithm}/{training}/aligned"] = {
                    test: _evaluate(
                        work, f"{algorithm}-{training}", data[test], algorithm, checkpoint, aligned
                    )
                    for test in ("test2", "test5")
                }
        for training in ("aligned-synthetic", "aligned-semi-synthetic") if aligned else ():
            t0 = time.perf_counter()
            checkpoint = _train(
                work, algorithm, training, data, args.quick, work / "alignment.json"
            )
            train_seconds[f"{algorithm}/{training}"] = round(time.perf_counter() - t0, 1)
            rows[f"{algorithm}/{training}/aligned"] = {
                test: _evaluate(
                    work, f"{algorithm}-{training}", data[test], algorithm, checkpoint, aligned
                )
                for test in ("test2", "test5")
            }
    rows["baseline"] = {
        test: _evaluate(work, "baseline", data[test], "baseline", None)
        for test in ("test2", "test5")
    }
    if aligned is not None:
        rows["baseline/aligned"] = {
            test: _evaluate(work, "baseline", data[test], "baseline", None, aligned)
            for test in ("test2", "test5")
        }
    emit(
        "straw_training_study",
        {
            "train_events": args.train_events,
            "test_events": args.test_events,
            "late_events": args.late_events,
            "quick": args.quick,
            "data_seconds": round(data_seconds, 1),
            "train_seconds": train_seconds,
            "alignment": alignment,
            "results": rows,
        },
    )


if __name__ == "__main__":
    main()
