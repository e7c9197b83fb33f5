"""The bad-input matrix: every command, fed what a user might feed it by mistake, answers
with one ``error:`` line naming the option, file or column, exit status 2, and leaves no
output behind. Valid but poor inputs give a result instead. (The submission cases of
``evaluate`` are in tests/evaluation/test_bad_submissions.py.)"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cli_helpers import assert_one_line_error, invoke
from tests.conftest import tiny_overrides


@dataclass(frozen=True)
class Inputs:
    """Files the cases point at: good ones (events, a straw dataset, checkpoints of both
    detectors) and broken ones, all in one read-only-by-convention folder."""

    root: Path

    def __getattr__(self, name: str) -> str:
        """``inputs.random`` -> the path of ``random.bin`` (a file or folder by its stem)."""
        return self.paths()[name]

    def paths(self) -> dict[str, str]:
        """Every input by the stem of its name: ``{"random": ".../random.bin", ...}``."""
        return {p.name.split(".")[0]: str(p) for p in self.root.iterdir()}

    def command(self, template: str, out: Path) -> list[str]:
        """The arguments of a case's command line, its ``{names}`` filled in."""
        return template.format(o=out, **self.paths()).split()


def _event_dir(
    root: Path, name: str, source: Path, edit: Callable[[pd.DataFrame], pd.DataFrame]
) -> None:
    target = root / name
    target.mkdir()
    for part in ("hits", "truth", "particles"):
        frame = pd.read_csv(source / f"event000000001-{part}.csv")
        if part != "particles":
            frame = edit(frame)
        frame.to_csv(target / f"event000000001-{part}.csv", index=False)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> Inputs:
    from tracknet.training.config import compose_config
    from tracknet.training.train import train

    root = tmp_path_factory.mktemp("bad_inputs")
    for args in (
        ["simulate", "trackml", "--out", str(root / "ev"), "--events", "2", "--particles", "300",
         "--volumes", "8,13,17", "--no-progress"],
        ["simulate", "straw", "--out", str(root / "straw"), "--events", "40", "--no-progress"],
    ):  # fmt: skip
        assert invoke(*args).code == 0
    ev = root / "ev"
    shutil.copy(tiny_checkpoint, root / "tm.ckpt")
    work = tmp_path_factory.mktemp("straw_model")
    straw_run = train(
        compose_config(
            [
                *tiny_overrides(work, "experiment=straw", "data.simulation.n_events=200"),
                "training.region_calibration.enabled=false",
            ]
        )
    )
    shutil.copy(straw_run["last_checkpoint"], root / "st.ckpt")
    rng = np.random.default_rng(7)
    (root / "random.bin").write_bytes(rng.bytes(4096))
    from tracknet.building.straw.seed_walk import SLOT_FEATURES, STEP_FEATURES
    from tracknet.model.seed_lstm import SeedLstm, save_seed_lstm

    save_seed_lstm(root / "sl.ckpt", SeedLstm(4, SLOT_FEATURES, STEP_FEATURES))
    (root / "truncated.ckpt").write_bytes((root / "tm.ckpt").read_bytes()[:2000])
    (root / "empty.ckpt").write_bytes(b"")
    (root / "afile.txt").write_text("not a folder\n")
    (root / "list.json").write_text("[1, 2]\n")
    (root / "unknown_key.json").write_text('{"no_such_setting": 1}\n')
    (root / "no_stages.json").write_text('{"seed_stages": []}\n')
    (root / "negative_radius.json").write_text('{"max_radius_mm": -5}\n')
    (root / "no_such_layer.json").write_text('{"seed_stages": [{"second": [[8, 3]]}]}\n')
    (root / "mapcfg.json").write_text(
        json.dumps({"seed_stages": [{"module_map": str(root / "random.bin")}]}) + "\n"
    )
    (root / "qualitycfg.json").write_text(
        json.dumps({"quality_model": str(root / "random.bin")}) + "\n"
    )
    _event_dir(root, "ev0", ev, lambda f: f.iloc[:0])
    _event_dir(root, "ev1", ev, lambda f: f.iloc[:1])
    _event_dir(
        root, "evnan", ev, lambda f: f.assign(x=f["x"].where(f.index != 3)) if "x" in f else f
    )
    _event_dir(  # one hit far out: a density grid's size must not overflow
        root, "evhuge", ev, lambda f: f.assign(x=f["x"].mask(f.index == 3, 1e30)) if "x" in f else f
    )
    (root / "hitsonly").mkdir()
    shutil.copy(ev / "event000000001-hits.csv", root / "hitsonly")
    (root / "hitsonly2").mkdir()  # two events: enough to split, no truth to train on
    for hits in ev.glob("*-hits.csv"):
        shutil.copy(hits, root / "hitsonly2")
    (root / "nosim").mkdir()  # an empty folder: no events at all
    return Inputs(root)


def _files(*roots: Path) -> set[Path]:
    return {p for root in roots for p in root.rglob("*")}


#: (case id, the command line: {o} is an empty output folder, {name} an input file of
#: :func:`inputs`; fragments its error line must hold)
CASES: list[tuple[str, str, tuple[str, ...]]] = [
    # ------------------------------------------------------------ info
    ("info-missing", "info {nosim}/event000000001", ("event000000001-hits.csv", "not found")),
    ("info-zero-hits", "info {ev0}/event000000001", ("ev0/event000000001-hits.csv", "no hits")),
    ("info-nan", "info {evnan}/event000000001", ("column 'x'", "row 3")),
    ("info-not-a-prefix", "info {afile}", ("afile.txt", "event prefix")),
    # ------------------------------------------------------------ convert
    ("convert-nan", "convert --to parquet --data-dir {evnan} --out {o}/c", ("column 'x'", "row 3")),
    ("convert-format", "convert --to hdf5 --data-dir {ev} --out {o}/c", ("--to", "hdf5")),
    ("convert-missing", "convert --to csv --data-dir {nosim} --out {o}/c", ("nosim",)),
    # ------------------------------------------------------------ build
    (
        "build-checkpoint-random",
        "build --data-dir {ev} --out {o}/s.csv --checkpoint {random}",
        ("random.bin", "checkpoint"),
    ),
    (
        "build-checkpoint-truncated",
        "build --data-dir {ev} --out {o}/s.csv --checkpoint {truncated}",
        ("truncated.ckpt", "checkpoint"),
    ),
    (
        "build-checkpoint-empty",
        "build --data-dir {ev} --out {o}/s.csv --checkpoint {empty}",
        ("empty.ckpt", "checkpoint"),
    ),
    (
        "build-checkpoint-missing",
        "build --data-dir {ev} --out {o}/s.csv --checkpoint {o}/none.ckpt",
        ("none.ckpt", "not found"),
    ),
    (
        "build-checkpoint-straw-on-trackml",
        "build --data-dir {ev} --out {o}/s.csv --checkpoint {st}",
        ("st.ckpt", "2-d"),
    ),
    (
        "build-checkpoint-trackml-on-straw",
        "build --data-dir {straw} --out {o}/s.csv --checkpoint {tm}",
        ("tm.ckpt", "straw"),
    ),
    ("build-no-checkpoint", "build --data-dir {ev} --out {o}/s.csv", ("--checkpoint",)),
    (
        "build-zero-hits",
        "build --data-dir {ev0} --out {o}/s.csv --algorithm baseline",
        ("ev0", "no hits"),
    ),
    ("build-nan", "build --data-dir {evnan} --out {o}/s.csv --algorithm baseline", ("column 'x'",)),
    (
        "build-no-events",
        "build --data-dir {nosim} --out {o}/s.csv --algorithm baseline",
        ("nosim",),
    ),
    (
        "build-data-dir-missing",
        "build --data-dir {o}/nodir --out {o}/s.csv --algorithm baseline",
        ("nodir", "no such directory"),
    ),
    (
        "build-out-folder-missing",
        "build --data-dir {ev} --out {o}/a/b/s.csv --algorithm baseline",
        ("--out", "does not exist"),
    ),
    (
        "build-out-under-a-file",
        "build --data-dir {ev} --out {afile}/s.csv --algorithm baseline",
        ("--out", "afile.txt", "not a folder"),
    ),
    (
        "build-out-is-a-folder",
        "build --data-dir {ev} --out {o} --algorithm baseline",
        ("--out", "is a directory"),
    ),
    (
        "build-events-text",
        "build --data-dir {ev} --out {o}/s.csv --algorithm baseline --events 1,x",
        ("--events",),
    ),
    (
        "build-events-absent",
        "build --data-dir {ev} --out {o}/s.csv --algorithm baseline --events 99",
        ("99", "not found"),
    ),
    (
        "build-threads-zero",
        "build --data-dir {ev} --out {o}/s.csv --algorithm baseline --threads 0",
        ("--threads",),
    ),
    (
        "build-threads-absurd",
        "build --data-dir {ev} --out {o}/s.csv --algorithm baseline --threads 100000000000",
        ("--threads",),
    ),
    ("build-threads-text", "build --data-dir {ev} --out {o}/s.csv --threads two", ("--threads",)),
    (
        "build-config-not-json",
        "build --data-dir {ev} --out {o}/s.csv --algorithm baseline --config {random}",
        ("random.bin", "JSON"),
    ),
    (
        "build-config-list",
        "build --data-dir {ev} --out {o}/s.csv --algorithm baseline --config {list}",
        ("list.json", "object"),
    ),
    (
        "build-config-unknown-key",
        "build --data-dir {ev} --out {o}/s.csv --algorithm baseline --config {unknown_key}",
        ("no_such_setting",),
    ),
    (
        "build-config-no-stage",
        "build --data-dir {ev} --out {o}/s.csv --algorithm baseline --config {no_stages}",
        ("no_stages.json", "seed_stages"),
    ),
    (
        "build-config-negative-radius",
        "build --data-dir {ev} --out {o}/s.csv --algorithm baseline --config {negative_radius}",
        ("negative_radius.json", "max_radius_mm"),
    ),
    (
        "build-config-no-such-layer",
        "build --data-dir {ev} --out {o}/s.csv --algorithm baseline --config {no_such_layer}",
        ("no_such_layer.json", "(8, 3)", "[2, 4, 6, 8]"),
    ),
    (
        "build-algorithm-unknown",
        "build --data-dir {ev} --out {o}/s.csv --algorithm kalman",
        ("--algorithm", "kalman"),
    ),
    ("build-unknown-option", "build --data-dir {ev} --out {o}/s.csv --beam 3", ("--beam",)),
    ("build-missing-option", "build --out {o}/s.csv", ("--data-dir",)),
    # ------------------------------------------------------------ simulate trackml
    ("simulate-events-zero", "simulate trackml --out {o}/sim --events 0", ("--events",)),
    ("simulate-events-negative", "simulate trackml --out {o}/sim --events -3", ("--events",)),
    (
        "simulate-events-absurd",
        "simulate trackml --out {o}/sim --events 99999999999999999999",
        ("--events",),
    ),
    (
        "simulate-particles-zero",
        "simulate trackml --out {o}/sim --events 1 --particles 0",
        ("--particles",),
    ),
    (
        "simulate-particles-absurd",
        "simulate trackml --out {o}/sim --events 1 --particles 10000000000000",
        ("--particles",),
    ),
    ("simulate-seed-negative", "simulate trackml --out {o}/sim --events 1 --seed -1", ("--seed",)),
    (
        "simulate-first-id-beyond-nine-digits",
        "simulate trackml --out {o}/sim --events 1 --first-event-id 1000000000",
        ("--first-event-id",),
    ),
    ("simulate-field-nan", "simulate trackml --out {o}/sim --events 1 --field nan", ("--field",)),
    ("simulate-volume-unknown", "simulate trackml --out {o}/sim --events 1 --volumes 99", ("99",)),
    (
        "simulate-out-is-a-file",
        "simulate trackml --out {afile} --events 1",
        ("afile.txt", "not a directory"),
    ),
    (
        "simulate-out-under-a-file",
        "simulate trackml --out {afile}/sim --events 1",
        ("--out", "afile.txt"),
    ),
    # ------------------------------------------------------------ simulate straw
    ("straw-events-zero", "simulate straw --out {o}/sim --events 0", ("--events",)),
    ("straw-modules-zero", "simulate straw --out {o}/sim --events 1 --modules 0", ("--modules",)),
    (
        "straw-straws-absurd",
        "simulate straw --out {o}/sim --events 1 --straws 100000000000",
        ("--straws",),
    ),
    (
        "straw-distribution-unknown",
        "simulate straw --out {o}/sim --events 1 --distribution gauss",
        ("--distribution", "gauss"),
    ),
    (
        "straw-drift-sigma-negative",
        "simulate straw --out {o}/sim --events 1 --drift-sigma -0.1",
        ("--drift-sigma",),
    ),
    (
        "straw-chunk-zero",
        "simulate straw --out {o}/sim --events 1 --events-per-chunk 0",
        ("--events-per-chunk",),
    ),
    # ------------------------------------------------------------ overlay
    (
        "overlay-source-without-truth",
        "overlay --source {hitsonly} --out {o}/ov --events 2 --tracks-per-event 2",
        ("truth",),
    ),
    (
        "overlay-background-of-another-detector",
        "overlay --source {ev} --background {straw} --out {o}/ov --events 2 --tracks-per-event 2",
        ("background", "straw"),
    ),
    (
        "overlay-events-zero",
        "overlay --source {straw} --out {o}/ov --events 0 --tracks-per-event 2",
        ("--events",),
    ),
    (
        "overlay-tracks-zero",
        "overlay --source {straw} --out {o}/ov --events 2 --tracks-per-event 0",
        ("--tracks-per-event",),
    ),
    (
        "overlay-tracks-absurd",
        "overlay --source {straw} --out {o}/ov --events 2 --tracks-per-event 100000000000",
        ("100000000000",),
    ),
    (
        "overlay-source-missing",
        "overlay --source {o}/nodir --out {o}/ov --events 2 --tracks-per-event 2",
        ("nodir",),
    ),
    (
        "overlay-no-track-passes",
        "overlay --source {straw} --out {o}/ov --events 2 --tracks-per-event 2 --min-hits 1000",
        ("library",),
    ),
    (
        "overlay-noise-negative",
        "overlay --source {straw} --out {o}/ov --events 2 --tracks-per-event 2 --noise-rate -1",
        ("noise_rate",),
    ),
    # ------------------------------------------------------------ train
    ("train-unknown-key", "train no_such_key=1 run.output_dir={o}/run", ("no_such_key",)),
    (
        "train-mistyped-value",
        "train trainer.max_epochs=abc run.output_dir={o}/run",
        ("max_epochs", "abc"),
    ),
    ("train-override-without-value", "train data.batch_size", ("data.batch_size",)),
    (
        "train-unknown-experiment",
        "train experiment=nope run.output_dir={o}/run",
        ("experiment/nope",),
    ),
    (
        "train-epochs-zero",
        "train experiment=simulated trainer.max_epochs=0 run.output_dir={o}/run",
        ("max_epochs",),
    ),
    (
        "train-batch-zero",
        "train experiment=simulated data.batch_size=0 run.output_dir={o}/run",
        ("batch_size",),
    ),
    (
        "train-hidden-absurd",
        "train experiment=simulated model.hidden_size=100000000000 run.output_dir={o}/run",
        ("hidden_size",),
    ),
    ("train-option-not-override", "train --epochs 3", ("--epochs",)),
    (
        "train-resume-random",
        "train experiment=simulated training.resume_from={random} run.output_dir={o}/run",
        ("random.bin", "checkpoint"),
    ),
    (
        "train-resume-missing",
        "train experiment=simulated training.resume_from={o}/none.ckpt run.output_dir={o}/run",
        ("none.ckpt",),
    ),
    (
        "train-resume-another-model",
        "train experiment=simulated training.resume_from={st} run.output_dir={o}/run",
        ("st.ckpt", "another model"),
    ),
    (
        "train-data-dir-missing",
        "train experiment=trackml data.dir={o}/nodir run.output_dir={o}/run",
        ("nodir",),
    ),
    (
        "train-data-dir-of-straw",
        "train experiment=trackml data.dir={straw} run.output_dir={o}/run",
        ("straw",),
    ),
    (
        "train-data-without-truth",
        "train experiment=trackml data.dir={hitsonly2} run.output_dir={o}/run",
        ("hitsonly2/event000000001", "no truth"),
    ),
    (
        "train-print-config-interpolation",
        "train --print-config training.lr=${{nowhere}}",
        ("nowhere",),
    ),
    ("train-print-config-range", "train --print-config trainer.max_epochs=-1", ("max_epochs",)),
    ("train-unknown-top-key", "train --print-config +seeed=1", ("seeed",)),
    ("train-seed-negative", "train --print-config seed=-1", ("seed",)),
    ("train-features-unknown", "train --print-config model.features=polar", ("features", "polar")),
    (
        "train-straw-on-trackml",
        "train experiment=straw data.dir={ev} run.output_dir={o}/run",
        ("ev", "straw"),
    ),
    # ------------------------------------------------------------ validate, density, export
    (
        "validate-checkpoint-random",
        "validate --checkpoint {random} --data-dir {ev}",
        ("random.bin", "checkpoint"),
    ),
    ("validate-checkpoint-straw", "validate --checkpoint {st} --data-dir {ev}", ("st.ckpt", "2-d")),
    (
        "validate-data-straw",
        "validate --checkpoint {tm} --data-dir {straw}",
        ("straw", "no TrackML events"),
    ),
    (
        "validate-min-hits",
        "validate --checkpoint {tm} --data-dir {ev} --min-hits 1",
        ("--min-hits",),
    ),
    (
        "validate-density-random",
        "validate --checkpoint {tm} --data-dir {ev} --density {random}",
        ("random.bin", "density"),
    ),
    (
        "density-voxel-zero",
        "density --data-dir {ev} --output {o}/d.npz --voxel-size 0",
        ("--voxel-size",),
    ),
    (
        "density-voxel-tiny",
        "density --data-dir {ev} --output {o}/d.npz --voxel-size 0.0001",
        ("voxel",),
    ),
    (
        "density-out-folder-missing",
        "density --data-dir {ev} --output {o}/a/d.npz",
        ("--output", "does not exist"),
    ),
    (
        "export-checkpoint-truncated",
        "export --checkpoint {truncated} --out {o}/m.onnx",
        ("truncated.ckpt",),
    ),
    ("export-opset-old", "export --checkpoint {tm} --out {o}/m.onnx --opset 1", ("--opset",)),
    *(
        (
            f"export-opset-{v}",
            f"export --checkpoint {{tm}} --out {{o}}/m.onnx --opset {v}",
            ("--opset",),
        )
        for v in (0, 7, 99)
    ),  # checked before tracing: no graph printed before the error
    (
        "density-hit-at-1e30",
        "density --data-dir {evhuge} --output {o}/d.npz",
        ("voxels", "exceeds"),
    ),
    (
        "export-out-folder-missing",
        "export --checkpoint {tm} --out {o}/a/m.onnx",
        ("--out", "does not exist"),
    ),
    # ------------------------------------------------------------ displays, curves, demo
    (
        "display-event-absent",
        "display --data-dir {ev} --event 99 --out {o}/d.html",
        ("event000000099",),
    ),
    ("display-zero-hits", "display --data-dir {ev0} --event 1 --out {o}/d.html", ("no hits",)),
    (
        "display-submission-random",
        "display --data-dir {ev} --event 1 --out {o}/d.html --submission {random}",
        ("random.bin",),
    ),
    (
        "display-out-folder-missing",
        "display --data-dir {ev} --event 1 --out {o}/a/d.html",
        ("--out", "does not exist"),
    ),
    (
        "display-straw-event-absent",
        "display-straw --data-dir {straw} --event 99999 --out {o}/d.png",
        ("straw", "not in the dataset"),
    ),
    (
        "display-straw-of-trackml",
        "display-straw --data-dir {ev} --event 1 --out {o}/d.png",
        ("ev",),
    ),
    (
        "display-straw-dpi",
        "display-straw --data-dir {straw} --event 1 --out {o}/d.png --dpi 0",
        ("--dpi",),
    ),
    (
        "curves-checkpoint-trackml",
        "straw-curves --checkpoint {tm} --out {o}/c --events 2",
        ("straw",),
    ),
    (
        "curves-occupancy-zero",
        "straw-curves --checkpoint {st} --out {o}/c --occupancies 0",
        ("occupancies",),
    ),
    ("curves-times-nan", "straw-curves --checkpoint {st} --out {o}/c --times nan", ("times",)),
    ("curves-events-zero", "straw-curves --checkpoint {st} --out {o}/c --events 0", ("--events",)),
    (
        "curves-semi-option-alone",
        "straw-curves --checkpoint {st} --out {o}/c --overlay-tracks 2",
        ("--overlay-tracks", "--semi-synthetic"),
    ),
    (
        "curves-semi-overlay-zero",
        "straw-curves --checkpoint {st} --out {o}/c --semi-synthetic --overlay-tracks 0",
        ("--overlay-tracks",),
    ),
    (
        "evaluate-truth-on-trackml",
        "evaluate --data-dir {ev} --submission {o}/none.csv --truth {straw}",
        ("--truth", "straw"),
    ),
    # ------------------------------------------------------------ the seed classifier
    (
        "seed-checkpoint-to-tracknet",
        "build --data-dir {straw} --checkpoint {sl} --out {o}/s.csv",
        ("sl.ckpt", "seed-classifier", "--algorithm seed-lstm"),
    ),
    (
        "tracknet-checkpoint-to-seed-lstm",
        "build --data-dir {straw} --algorithm seed-lstm --checkpoint {st} --out {o}/s.csv",
        ("st.ckpt", "not a seed-classifier checkpoint", "experiment=straw_seed"),
    ),
    (
        "curves-seed-checkpoint-of-tracknet",
        "straw-curves --checkpoint {st} --out {o}/c --seed-checkpoint {st}",
        ("st.ckpt", "not a seed-classifier checkpoint"),
    ),
    (
        "seed-lstm-without-checkpoint",
        "build --data-dir {straw} --algorithm seed-lstm --out {o}/s.csv",
        ("seed-lstm", "--checkpoint"),
    ),
    (
        "seed-lstm-on-trackml",
        "build --data-dir {ev} --algorithm seed-lstm --checkpoint {sl} --out {o}/s.csv",
        ("seed-lstm", "straw events only"),
    ),
    (
        "seed-train-on-trackml",
        "train model.kind=seed_lstm data.dir={ev} run.output_dir={o}/r",
        ("seed_lstm", "straw"),
    ),
    # ------------------------------------------------------------ module-map
    (
        "module-map-no-events",
        "module-map --data-dir {nosim} --out {o}/m.npz",
        ("nosim", "no TrackML events"),
    ),
    (
        "module-map-no-truth",
        "module-map --data-dir {hitsonly} --out {o}/m.npz",
        ("truth",),
    ),
    (
        "module-map-data-dir-is-a-file",
        "module-map --data-dir {afile} --out {o}/m.npz",
        ("--data-dir", "afile.txt"),
    ),
    (
        "module-map-min-pt-zero",
        "module-map --data-dir {ev} --out {o}/m.npz --min-pt 0",
        ("--min-pt",),
    ),
    (
        "module-map-volumes-not-integers",
        "module-map --data-dir {ev} --out {o}/m.npz --volumes 8,x",
        ("--volumes",),
    ),
    (
        "module-map-unknown-event",
        "module-map --data-dir {ev} --out {o}/m.npz --events 99",
        ("[99]", "not found"),
    ),
    (
        "module-map-out-folder-missing",
        "module-map --data-dir {ev} --out {o}/no/m.npz",
        ("--out", "does not exist"),
    ),
    # ------------------------------------------------------------ quality
    (
        "quality-no-events",
        "quality --data-dir {nosim} --out {o}/q.json --algorithm baseline",
        ("nosim",),
    ),
    (
        "quality-no-truth",
        "quality --data-dir {hitsonly} --out {o}/q.json --algorithm baseline",
        ("truth",),
    ),
    (
        "quality-data-dir-is-a-file",
        "quality --data-dir {afile} --out {o}/q.json --algorithm baseline",
        ("--data-dir", "afile.txt"),
    ),
    (
        "quality-unknown-algorithm",
        "quality --data-dir {ev} --out {o}/q.json --algorithm baseline,kalman",
        ("kalman",),
    ),
    ("quality-no-checkpoint", "quality --data-dir {ev} --out {o}/q.json", ("--checkpoint",)),
    ("align-trackml", "align --data-dir {ev} --out {o}/a.json", ("straw datasets only",)),
    (
        "quality-unknown-setting",
        "quality --data-dir {ev} --out {o}/q.json --algorithm baseline --config {unknown_key}",
        ("no_such_setting",),
    ),
    (
        "quality-out-folder-missing",
        "quality --data-dir {ev} --out {o}/no/q.json --algorithm baseline",
        ("--out", "does not exist"),
    ),
    (
        "build-quality-not-a-score",
        "build --data-dir {ev} --out {o}/s.csv --algorithm baseline --config {qualitycfg}",
        ("random.bin", "track quality"),
    ),
    (
        "build-module-map-not-a-map",
        "build --data-dir {ev} --out {o}/s.csv --algorithm baseline --config {mapcfg}",
        ("random.bin", "module map"),
    ),
    ("demo-epochs-zero", "demo --out {o}/demo --epochs 0", ("--epochs",)),
    ("demo-test-events-zero", "demo --out {o}/demo --test-events 0", ("--test-events",)),
    ("demo-train-events-negative", "demo --out {o}/demo --train-events -1", ("--train-events",)),
    ("demo-out-is-a-file", "demo --out {afile}", ("--out", "afile.txt")),
    # ---------------------------------------------------------------- absurd numbers
    (
        "overlay-first-id-beyond-64-bits",
        "overlay --source {straw} --out {o}/ov --events 2 --tracks-per-event 1"
        " --first-event-id 99999999999999999999",
        ("--first-event-id",),
    ),
    (
        "validate-volumes-beyond-64-bits",
        "validate --checkpoint {tm} --data-dir {ev} --volumes 99999999999999999999",
        ("--volumes", "64 bits"),
    ),
    (
        "validate-min-pt-absurd",
        "validate --checkpoint {tm} --data-dir {ev} --min-pt 1e308",
        ("no track with pT",),
    ),
    (
        "density-voxel-absurd",
        "density --data-dir {ev} --output {o}/d.npz --voxel-size 1e308",
        ("--voxel-size",),
    ),
    (
        "display-straw-event-beyond-64-bits",
        "display-straw --data-dir {straw} --event 99999999999999999999 --out {o}/d.png",
        ("--event",),
    ),
    (
        "curves-time-absurd",
        "straw-curves --checkpoint {st} --out {o}/c --events 2 --occupancies 1 --times 1e308",
        ("times_us",),
    ),
    (
        "simulate-vertex-spread-absurd",
        "simulate trackml --out {o}/sim --events 1 --particles 50 --vertex-sigma-z 1e308",
        ("--vertex-sigma-z",),
    ),
    ("unknown-command", "reconstruct", ("reconstruct",)),
]


@pytest.mark.parametrize(("line", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_error_line_and_leaves_nothing(
    inputs: Inputs, tmp_path: Path, line: str, fragments: tuple[str, ...]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    before = _files(inputs.root)
    result = invoke(*inputs.command(line, out))
    assert_one_line_error(result, *fragments)
    assert _files(out) == set(), "output left behind"
    assert _files(inputs.root) == before, "inputs changed or output written beside them"


def test_the_matrix_covers_every_command() -> None:
    from tracknet.cli import app

    names = {c.name for c in app.registered_commands} | {"simulate"}
    covered = {case[0].split("-")[0] for case in CASES}
    aliases = {
        "straw": "simulate",
        "curves": "straw-curves",
        "module": "module-map",
        "unknown": None,
    }
    covered = {aliases.get(c, c) for c in covered} - {None}
    covered |= {"display-straw"} if any(c[0].startswith("display-straw") for c in CASES) else set()
    assert names - covered - {"evaluate"} == set()  # evaluate: tests/evaluation/
    assert len(CASES) >= 40


# ------------------------------------------------------------------- valid but poor input


def test_an_event_of_one_hit_builds_to_one_unassigned_row(inputs: Inputs, tmp_path: Path) -> None:
    from tracknet.io.trackml import read_submission

    out = tmp_path / "s.csv"
    result = invoke("build", "--data-dir", inputs.ev1, "--out", str(out), "--algorithm", "baseline")
    assert result.code == 0, result.err
    sub = read_submission(out)
    assert len(sub) == 1 and int(sub["track_id"].iloc[0]) == 0
    # What build writes, evaluate reads: the round trip of a one-hit event.
    scored = invoke("evaluate", "--submission", str(out), "--data-dir", inputs.ev1, "--json")
    assert scored.code == 0 and scored.err == "", scored.err
    summary = json.loads(scored.out)
    assert summary["n_events"] == 1 and summary["n_events_missing"] == 0
    assert summary["n_tracks"] == 0


def test_a_hits_file_alone_is_enough_to_build(inputs: Inputs, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    result = invoke(
        "build", "--data-dir", inputs.hitsonly, "--out", str(out), "--algorithm", "baseline"
    )
    assert result.code == 0, result.err
    assert len(pd.read_csv(out)) == len(
        pd.read_csv(Path(inputs.hitsonly) / "event000000001-hits.csv")
    )


def test_a_straw_dataset_of_noise_only_builds_to_no_track(inputs: Inputs, tmp_path: Path) -> None:
    # TrackNET's straw beam returned a bare result for an event without seeds, which its
    # caller unpacked: a TypeError on any event with no track in it.
    data = tmp_path / "noise_only"
    args = ["--events", "5", "--tracks-mean", "0", "--tracks-max", "0", "--noise-rate", "0.01"]
    assert invoke("simulate", "straw", "--out", str(data), *args).code == 0
    out = tmp_path / "s.csv"
    result = invoke("build", "--data-dir", str(data), "--out", str(out), "--checkpoint", inputs.st)
    assert result.code == 0, result.err
    assert (pd.read_csv(out)["track_id"] == 0).all()


def test_straw_curves_write_their_figures_and_record_together(
    inputs: Inputs, tmp_path: Path
) -> None:
    out = tmp_path / "curves"
    args = ["--checkpoint", inputs.st, "--out", str(out), "--events", "2"]
    result = invoke("straw-curves", *args, "--occupancies", "1", "--times", "0")
    assert result.code == 0, result.err
    names = sorted(p.name for p in out.iterdir())
    assert "straw_curves.json" in names and len(names) > 1
    assert all(n.endswith(".png") for n in names if n != "straw_curves.json")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_semi_synthetic_straw_curves_put_library_tracks_on_production_events(
    inputs: Inputs, tmp_path: Path
) -> None:
    out = tmp_path / "semi"
    args = ["--checkpoint", inputs.st, "--out", str(out), "--events", "150", "--semi-synthetic"]
    more = ["--library-events", "3000", "--occupancies", "1", "--times", "0,200"]
    result = invoke("straw-curves", *args, *more, "--seed-checkpoint", inputs.sl)
    assert result.code == 0, result.err
    assert "x 3 algorithms" in result.out
    record = json.loads((out / "straw_curves.json").read_text())
    assert record["algorithms"] == ["tracknet", "baseline", "seed-lstm"]
    points = record["occupancy"] + record["time_in_fill"]
    assert all("found_fraction" in p[a] for p in points for a in record["algorithms"])
    assert record["settings"]["events"] == "semi-synthetic" and record["library_tracks"] > 100
    early, late = record["time_in_fill"]
    assert early["background_mean_tracks"] > 3 * late["background_mean_tracks"]
    # Loose physics floors of the classical builder: a lone track on a quiet background is
    # found; a busy background early in the fill costs tracks.
    assert record["occupancy"][0]["baseline"]["found_fraction"] > 0.9
    assert late["baseline"]["found_fraction"] > early["baseline"]["found_fraction"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_refused(inputs: Inputs, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = invoke(
            "build",
            "--data-dir",
            inputs.ev,
            "--out",
            str(locked / "s.csv"),
            "--algorithm",
            "baseline",
        )
        assert_one_line_error(result, "--out", "not writable")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


# ------------------------------------------------------------------- every option, fuzzed

#: A valid, quick command line of each command; the fuzz changes one option at a time.
VALID_LINES = {
    ("info",): "info {ev}/event000000001",
    ("convert",): "convert --to parquet --data-dir {ev} --out {o}/c",
    ("build",): "build --data-dir {ev} --out {o}/s.csv --algorithm baseline",
    ("simulate", "trackml"): "simulate trackml --out {o}/sim --events 1 --particles 50",
    ("simulate", "straw"): "simulate straw --out {o}/sim --events 3",
    ("overlay",): "overlay --source {straw} --out {o}/ov --events 3 --tracks-per-event 1",
    ("validate",): "validate --checkpoint {tm} --data-dir {ev}",
    ("density",): "density --data-dir {ev} --output {o}/d.npz",
    ("export",): "export --checkpoint {tm} --out {o}/m.onnx",
    ("display",): "display --data-dir {ev} --event 1 --out {o}/d.html",
    ("display-straw",): "display-straw --data-dir {straw} --event 1 --out {o}/d.png",
    ("straw-curves",): "straw-curves --checkpoint {st} --out {o}/c --events 2 --occupancies 1"
    " --times 0",
    ("module-map",): "module-map --data-dir {ev} --out {o}/m.npz",
    ("quality",): "quality --data-dir {ev} --out {o}/q.json --algorithm baseline",
    ("align",): "align --data-dir {straw} --out {o}/a.json",
}
#: Values that a typo or a slip gives: negative, not a number, beyond 64 bits.
ODD_VALUES = ("-1", "nan", "99999999999999999999")


@pytest.mark.slow
def test_every_option_of_every_command_survives_odd_values(
    inputs: Inputs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each option of each command given each odd value: a result (exit 0), or exit 2 with
    one error line and nothing written; never a traceback or another status."""
    import typer

    # An odd value given to an output option (``--out nan``) names a file relative to the
    # working directory: keep those inside the test's own folder.
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)

    from tracknet.cli import app

    group = typer.main.get_command(app)
    failures = []
    runs = 0
    for path, line in VALID_LINES.items():
        command = group
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        options = [
            p.opts[0]
            for p in command.params
            if p.opts and p.opts[0].startswith("--") and not getattr(p, "is_flag", False)
            and p.name != "help"
        ]  # fmt: skip
        for flag in options:
            for value in ODD_VALUES:
                runs += 1
                out = tmp_path / f"run{runs}"
                out.mkdir()
                args = inputs.command(line, out)
                if flag in args:
                    args[args.index(flag) + 1] = value
                else:
                    args += [flag, value]
                result = invoke(*args)
                lines = result.err_lines
                clean = result.code == 0 or (
                    result.code == 2
                    and len(lines) == 1
                    and lines[0].startswith("error: ")
                    and not any(out.iterdir())
                )
                if not clean or "Traceback" in result.err:
                    failures.append((" ".join(path), flag, value, result.code, lines[-1:]))
    assert failures == []
    assert runs > 200  # every command's options were reached
