"""train(cfg) end to end on a tiny simulated data set: run layout, checkpoints, resume,
validate, density and export on what it produced."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

import tracknet.data.cache as cache
from tracknet.errors import CheckpointError, DataError
from tracknet.model.checkpoint import MODEL_KIND, load_checkpoint
from tracknet.model.density import DENSITY_MAP_KEYS, DensityMap
from tracknet.model.metrics import StepAheadMetrics
from tracknet.training.__main__ import main as training_main
from tracknet.training.config import compose_config
from tracknet.training.train import CHECKPOINT_DIR, TRACK_VIZ_FILE, resume_checkpoint, train
from tracknet.training.validate import validate_checkpoint

from ..conftest import tiny_overrides


@pytest.fixture
def first_run(tiny_run: tuple[Path, dict[str, Any]]) -> tuple[Path, dict[str, Any]]:
    """The session's tiny run (``tests/conftest.py``): a t1 cap of 400 mm and the
    per-region calibration on the validation tracks."""
    return tiny_run


def test_run_layout(first_run: tuple[Path, dict[str, Any]]) -> None:
    tmp, results = first_run
    run = tmp / "run"
    assert Path(results["run_dir"]) == run
    assert (run / "train.log").is_file() and "finished" in (run / "train.log").read_text()
    version = run / "logs" / "simulated" / "version_0"
    assert Path(results["log_dir"]) == version
    names = {p.name for p in version.iterdir()}
    assert {"hparams.yaml", CHECKPOINT_DIR, TRACK_VIZ_FILE, "results.json"} <= names
    assert not list(version.glob("*.ckpt"))  # all of them in checkpoints/
    assert any(n.startswith("events.out.tfevents") for n in names)
    checkpoints = version / CHECKPOINT_DIR
    assert Path(results["checkpoint_dir"]) == checkpoints
    assert Path(results["last_checkpoint"]) == checkpoints / "last.ckpt"
    best = [p for p in checkpoints.iterdir() if p.name != "last.ckpt"]
    assert len(best) == 1 and Path(results["best_checkpoint"]) == best[0]
    assert best[0].name.startswith("epoch") and best[0].suffix == ".ckpt"
    html = (version / TRACK_VIZ_FILE).read_text()
    assert "plotly" in html and "t1 spheres" in html and "true next hits" in html
    assert json.loads((version / "results.json").read_text())["epochs"] == 1
    assert results["epochs"] == 1 and results["train_tracks"] > 0 and results["val_tracks"] > 0
    for key in (
        "val/loss",
        "val/t1_efficiency",
        "val/t2_efficiency",
        "val/t1_radius_scale",
        "train/tracks_per_s",
        "region/t1_efficiency",
        "region/t1_cost_hits_per_sphere",
    ):
        assert np.isfinite(results[key]), key


def test_a_run_is_laid_out_as_the_original_tracknet_run(
    first_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """Three epochs: ``checkpoints/`` holds the three best by val/loss and ``last.ckpt``,
    beside the TensorBoard files, ``hparams.yaml`` and the track view."""
    tmp, _ = first_run  # its cache: no simulation again
    cfg = compose_config(
        [*tiny_overrides(tmp, "trainer.max_epochs=3"), f"run.output_dir={tmp_path / 'run'}"]
    )
    results = train(cfg)
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == ["logs", "train.log"]
    assert sorted(p.name for p in (run / "logs").iterdir()) == ["simulated"]
    assert sorted(p.name for p in (run / "logs" / "simulated").iterdir()) == ["version_0"]
    version = run / "logs" / "simulated" / "version_0"
    files = sorted(p.name for p in version.iterdir())
    events = [n for n in files if n.startswith("events.out.tfevents.")]
    assert len(events) == 1 and (version / events[0]).stat().st_size > 0
    assert files == sorted(
        [CHECKPOINT_DIR, "hparams.yaml", TRACK_VIZ_FILE, "results.json", *events]
    )
    checkpoints = version / CHECKPOINT_DIR
    assert checkpoints.is_dir() and Path(results["checkpoint_dir"]) == checkpoints
    names = sorted(p.name for p in checkpoints.iterdir())
    best = [n for n in names if n != "last.ckpt"]
    assert "last.ckpt" in names and len(best) == 3 and len(names) == 4
    # One best checkpoint per epoch, named by epoch and validation loss.
    assert sorted(n[: len("epoch000")] for n in best) == ["epoch000", "epoch001", "epoch002"]
    assert all("-loss" in n and n.endswith(".ckpt") for n in best)
    assert Path(results["best_checkpoint"]).parent == checkpoints
    assert Path(results["best_checkpoint"]).name in best
    assert Path(results["last_checkpoint"]) == checkpoints / "last.ckpt"
    assert torch.load(checkpoints / "last.ckpt", weights_only=True)["epoch"] == 2
    for name in names:
        load_checkpoint(checkpoints / name)  # each a whole TrackNET checkpoint
    hparams = yaml.safe_load((version / "hparams.yaml").read_text())
    assert {"tracknet", "training", "config"} <= set(hparams)
    assert "plotly" in (version / TRACK_VIZ_FILE).read_text()
    assert json.loads((version / "results.json").read_text())["epochs"] == 3
    assert "finished" in (run / "train.log").read_text()


def test_train_command_prints_where_the_checkpoints_are(
    first_run: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp, _ = first_run
    with pytest.raises(SystemExit) as info:
        training_main(["train", *tiny_overrides(tmp), f"run.output_dir={tmp_path / 'run'}"])
    assert info.value.code == 0
    rows = [line.split(None, 1) for line in capsys.readouterr().out.splitlines()]
    shown = {row[0]: row[1] for row in rows if len(row) == 2}  # the summary's label  value
    checkpoints = tmp_path / "run" / "logs" / "simulated" / "version_0" / CHECKPOINT_DIR
    assert Path(shown["checkpoint_dir"].strip()) == checkpoints
    assert Path(shown["last_checkpoint"].strip()) == checkpoints / "last.ckpt"
    assert Path(shown["best_checkpoint"].strip()).parent == checkpoints
    assert (checkpoints / "last.ckpt").is_file()


def test_checkpoints_hold_primitives_and_the_calibration(
    first_run: tuple[Path, dict[str, Any]],
) -> None:
    _, results = first_run
    for path in (results["best_checkpoint"], results["last_checkpoint"]):
        raw = torch.load(path, weights_only=True)
        record = raw["hyper_parameters"]["tracknet"]
        assert record["kind"] == MODEL_KIND
        # the per-epoch calibration is recorded; the region calibration then replaced it
        assert record["meta"]["calibration"]["t1_radius_scale"] == pytest.approx(
            results["val/t1_radius_scale"], rel=1e-5
        )
        assert record["meta"]["calibration"]["t1_max_radius_mm"] == 400
        assert record["model"]["t1_radius_scale"] == 1.0 and record["model"][
            "t1_max_radius"
        ] == float("inf")
        regions = record["model"]["radius_regions"]
        assert len(regions["t1_scales"]) == len(regions["r_edges"]) + 1
        region = record["meta"]["calibration"]["region"]
        assert region["t1"]["efficiency"] >= min(region["t1"]["efficiency_target"], 0.5)
        config = raw["hyper_parameters"]["config"]  # the composed configuration, as primitives
        calibration = config["training"]["calibration"]
        assert record["meta"]["calibration"]["t1_efficiency_target"] == calibration["t1_efficiency"]
        assert (
            record["meta"]["data"]["repeated_layer_keep"] == config["data"]["repeated_layer_keep"]
        )
        assert all(k.startswith("model.") for k in raw["state_dict"])
        loaded = load_checkpoint(path)
        assert loaded.model.t1_radius_scale == record["model"]["t1_radius_scale"]
        assert not loaded.model.training


def test_resume_continues_the_epochs_without_parsing_csv(
    first_run: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp, first = first_run

    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("CSV parsed again")

    monkeypatch.setattr(cache, "read_event", no_parsing)  # the second run reads only the cache
    cfg = compose_config(
        [
            *tiny_overrides(
                tmp, f"training.resume_from={first['last_checkpoint']}", "trainer.max_epochs=2"
            ),
            f"run.output_dir={tmp / 'resumed'}",
        ]
    )
    results = train(cfg)
    assert results["epochs"] == 2 and results["resumed_from"] == first["last_checkpoint"]
    before = torch.load(first["last_checkpoint"], weights_only=True)
    after = torch.load(results["last_checkpoint"], weights_only=True)
    assert before["epoch"] == 0 and after["epoch"] == 1
    assert after["global_step"] == 2 * before["global_step"]
    assert after["hyper_parameters"]["tracknet"]["meta"]["epochs_trained"] == 2


@pytest.mark.parametrize("given", ["version folder", "run folder", "earlier layout"])
def test_resume_from_a_folder_continues_its_last_checkpoint(
    first_run: tuple[Path, dict[str, Any]], tmp_path: Path, given: str
) -> None:
    tmp, first = first_run
    last = Path(first["last_checkpoint"])
    if given == "version folder":
        folder, expected = Path(first["log_dir"]), last
    elif given == "run folder":
        folder, expected = Path(first["run_dir"]), last
    else:  # checkpoints directly in version_N/, as runs before the checkpoints/ folder left them
        folder = tmp_path / "old" / "logs" / "simulated" / "version_0"
        folder.mkdir(parents=True)
        for path in last.parent.iterdir():
            (folder / path.name).write_bytes(path.read_bytes())
        expected = folder / "last.ckpt"
    cfg = compose_config(
        [
            *tiny_overrides(tmp, f"training.resume_from={folder}", "trainer.max_epochs=2"),
            f"run.output_dir={tmp_path / 'resumed'}",
        ]
    )
    results = train(cfg)
    assert results["resumed_from"] == str(expected) and results["epochs"] == 2
    after = torch.load(results["last_checkpoint"], weights_only=True)
    assert (
        after["epoch"] == 1 and after["hyper_parameters"]["tracknet"]["meta"]["epochs_trained"] == 2
    )
    assert (
        Path(results["last_checkpoint"]).parent
        == tmp_path / "resumed" / "logs" / "simulated" / "version_0" / CHECKPOINT_DIR
    )


def test_resume_checkpoint_of_each_kind_of_folder(tmp_path: Path) -> None:
    """Which file a folder given as ``training.resume_from`` resumes from (files only named)."""

    def touch(path: Path, mtime: float) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        os.utime(path, (mtime, mtime))
        return path

    run = tmp_path / "run"
    v0 = run / "logs" / "simulated" / "version_0"
    v1 = run / "logs" / "simulated" / "version_1"
    old_best = touch(v0 / "epoch000-loss1.0000.ckpt", 100)
    new_last = touch(v1 / CHECKPOINT_DIR / "last.ckpt", 300)
    new_best = touch(v1 / CHECKPOINT_DIR / "epoch004-loss0.5000.ckpt", 200)
    assert resume_checkpoint(new_best) == new_best  # a file is itself
    assert resume_checkpoint(v1) == new_last  # checkpoints/last.ckpt of a version folder
    assert resume_checkpoint(v1 / CHECKPOINT_DIR) == new_last
    assert resume_checkpoint(v0) == old_best  # the earlier layout: the newest .ckpt beside the logs
    for folder in (run, run / "logs", run / "logs" / "simulated"):
        assert resume_checkpoint(folder) == new_last  # the newest of its version folders
    (v1 / CHECKPOINT_DIR / "last.ckpt").unlink()
    assert resume_checkpoint(v1) == new_best  # no last.ckpt: the newest there
    assert resume_checkpoint(run) == new_best
    # A checkpoints/ folder counts before .ckpt files beside it.
    touch(v0 / CHECKPOINT_DIR / "epoch001-loss0.9000.ckpt", 50)
    assert resume_checkpoint(v0) == v0 / CHECKPOINT_DIR / "epoch001-loss0.9000.ckpt"
    empty = tmp_path / "empty"
    (empty / "logs" / "simulated" / "version_0").mkdir(parents=True)
    with pytest.raises(CheckpointError, match="no checkpoint") as info:
        resume_checkpoint(empty)
    assert "\n" not in str(info.value) and str(empty) in str(info.value)


def test_resume_from_a_folder_without_a_checkpoint_is_one_line(
    first_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    tmp, _ = first_run
    empty = tmp_path / "empty"
    empty.mkdir()
    cfg = compose_config(
        [*tiny_overrides(tmp, f"training.resume_from={empty}"), f"run.output_dir={tmp_path / 'x'}"]
    )
    with pytest.raises(CheckpointError, match="no checkpoint") as info:
        train(cfg)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "x").exists()  # refused before the run started


def test_resume_from_a_bad_checkpoint_is_one_line(first_run: tuple[Path, dict[str, Any]]) -> None:
    tmp, _ = first_run
    bad = tmp / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    cfg = compose_config(
        [*tiny_overrides(tmp, f"training.resume_from={bad}"), f"run.output_dir={tmp / 'x'}"]
    )
    with pytest.raises(CheckpointError) as info:
        train(cfg)
    assert "\n" not in str(info.value) and "bad.ckpt" in str(info.value)


def _events_dir(first: dict[str, Any]) -> Path:
    raw = torch.load(first["last_checkpoint"], weights_only=True)
    return Path(raw["hyper_parameters"]["config"]["data"]["cache_dir"]) / "simulated"


def test_validate_counts_hits_in_spheres(
    first_run: tuple[Path, dict[str, Any]], barrel_dir: Path
) -> None:
    _, first = first_run
    result = validate_checkpoint(first["last_checkpoint"], barrel_dir, min_pt=0.5)
    for key in (
        "t1_efficiency",
        "t2_efficiency",
        "t1_hits_in_sphere",
        "t2_hits_in_sphere",
        "t1_volume_mm3",
        "t2_volume_mm3",
        "n_tracks",
    ):
        assert key in result
    assert result["n_tracks"] > 0 and result["n_events"] == 3
    assert 0.0 <= result["t1_efficiency"] <= 1.0
    # Every sphere that holds its true hit holds at least that hit.
    assert result["t1_hits_in_sphere"] >= result["t1_efficiency"]
    assert result["t1_volume_mm3"] > 0 and len(result["events"]) == 3
    assert result["n_tracks"] == sum(e["n_tracks"] for e in result["events"])
    with pytest.raises(DataError, match="no track with pT"):
        validate_checkpoint(first["last_checkpoint"], barrel_dir, min_pt=1e5)
    # Only the pixel volume: fewer tracks and hits, every sphere counted against those hits.
    pixel = validate_checkpoint(first["last_checkpoint"], barrel_dir, min_pt=0.5, volumes=[8])
    assert 0 < pixel["n_predictions_t1"] < result["n_predictions_t1"] and pixel["volumes"] == [8]
    assert sum(e["n_hits"] for e in pixel["events"]) < sum(e["n_hits"] for e in result["events"])


def test_density_file_feeds_the_metric(
    first_run: tuple[Path, dict[str, Any]],
    barrel_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, first = first_run
    out = tmp_path / "density.npz"
    with pytest.raises(SystemExit) as info:
        training_main(
            [
                "density",
                "--data-dir",
                str(barrel_dir),
                "--voxel-size",
                "25",
                "--output",
                str(out),
                "--json",
            ]
        )
    assert info.value.code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_events"] == 3 and summary["voxel_size_mm"] == 25.0
    with np.load(out) as data:
        assert tuple(data.files) == DENSITY_MAP_KEYS or set(data.files) == set(DENSITY_MAP_KEYS)
    density = DensityMap.load(out)
    # The metric reads it: spheres centred on real hits of the events expect hits there.
    from tracknet.data import event_tracks
    from tracknet.io.trackml import list_events, read_event
    from tracknet.model import Prediction

    tracks = event_tracks(read_event(list_events(barrel_dir)[0]))
    longest = int(np.argmax(tracks.lengths))
    hits = torch.from_numpy(tracks.track_coords(longest).astype(np.float32))[None] / 1000.0
    n = hits.shape[1]
    radius = torch.full((1, n), 0.01)  # 10 mm
    pred = Prediction(torch.roll(hits, -1, 1), radius, torch.roll(hits, -2, 1), radius)
    metrics = StepAheadMetrics(load_checkpoint(first["last_checkpoint"]).normalizer, density)
    steps = torch.arange(n)[None]
    metrics.update(
        pred, torch.roll(hits, -1, 1), torch.roll(hits, -2, 1), steps < n - 1, steps < n - 2
    )
    values = metrics.compute()
    assert values["t1_efficiency"] == 1.0
    expected = (
        float(np.mean(density.density_at(hits[0, 1:].double().numpy() * 1000.0)))
        * (4 / 3)
        * np.pi
        * 10.0**3
    )
    assert values["t1_expected_hits"] == pytest.approx(expected, rel=1e-5) and expected > 0
    # ... and so does tracknet validate --density.
    result = validate_checkpoint(first["last_checkpoint"], barrel_dir, min_pt=0.5, density_map=out)
    assert result["t1_expected_hits"] > 0


def test_training_with_a_density_map_logs_expected_hits(
    first_run: tuple[Path, dict[str, Any]], barrel_dir: Path, tmp_path: Path
) -> None:
    tmp, _ = first_run
    from tracknet.training.density import build_density_map

    path = tmp_path / "d.npz"
    build_density_map(barrel_dir, path, voxel_size_mm=40.0)
    cfg = compose_config(
        [
            *tiny_overrides(tmp, f"training.density_map={path}"),
            f"run.output_dir={tmp_path / 'run'}",
        ]
    )
    results = train(cfg)
    assert results["val/t1_expected_hits"] > 0 and results["val/t2_expected_hits"] > 0


def test_validate_and_export_reject_a_corrupted_checkpoint(
    tmp_path: Path, barrel_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.ckpt"
    bad.write_bytes(b"\x00garbage" * 10)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"lr": 1.0}}, foreign)
    for path in (bad, foreign, tmp_path / "missing.ckpt"):
        for argv in (
            ["validate", "--checkpoint", str(path), "--data-dir", str(barrel_dir)],
            ["export", "--checkpoint", str(path), "--out", str(tmp_path / "m.onnx")],
        ):
            with pytest.raises(SystemExit) as info:
                training_main(argv)
            assert info.value.code == 2
            err = capsys.readouterr().err.strip()
            assert err.startswith("error: ") and "\n" not in err and path.name in err
    assert not (tmp_path / "m.onnx").exists()
