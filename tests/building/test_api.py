"""build_event / build_directory and BuildConfig: outputs, overrides, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tracknet.building import BuildConfig, build_directory, build_event, parse_event_list
from tracknet.building.seeding import SeedStage
from tracknet.errors import CheckpointError, ConfigError, DataError
from tracknet.evaluation.report import read_build_meta
from tracknet.events import Event
from tracknet.io.trackml import read_submission, write_event

from .test_tracknet import _check_submission


def test_build_event_reads_only_hits(test_event: Event) -> None:
    hits_only = Event(event_id=test_event.event_id, hits=test_event.hits)
    full = build_event(test_event, "baseline")
    bare = build_event(hits_only, "baseline")
    pd.testing.assert_frame_equal(full, bare)
    _check_submission(test_event, bare)
    assert (bare.track_id == 0).any() and (bare.track_id > 0).any()


def test_an_event_without_hits_gives_an_empty_submission(test_event: Event) -> None:
    empty = Event(event_id=3, hits=test_event.hits.iloc[:0])
    out = build_event(empty, "baseline")
    assert len(out) == 0 and list(out.columns) == ["event_id", "hit_id", "track_id"]


def test_config_overrides_and_errors(tmp_path: Path) -> None:
    config = BuildConfig.from_dict(
        {"beam_width": 5, "seed_stages": [{"kind": "pair", "second": [[8, 4]]}]}
    )
    assert config.beam_width == 5 and config.seed_stages == (
        SeedStage(kind="pair", second=((8, 4),)),
    )
    assert BuildConfig.from_dict(BuildConfig().to_dict()) == BuildConfig()
    json.dumps(BuildConfig().to_dict())  # JSON-ready
    bad = {
        "beam_width": 0,
        "max_branches": 1.5,
        "radius_scale": -1.0,
        "max_shared_fraction": 1.0,
        "min_hits": 0,
        "workers": 0,
        "seed_stages": [],
        "field_tesla": float("nan"),
        "max_radius_mm": 0.0,
        "max_fit_rms_mm": -0.5,
        "max_chi2_z": float("inf"),
        "max_outliers": -1,
        "double_hit_distance_mm": "10",
    }
    for key, value in bad.items():
        with pytest.raises(ConfigError) as info:
            BuildConfig.from_dict({key: value})
        assert "\n" not in str(info.value)
        assert key in str(info.value)
    # Every cut can be switched off.
    off = BuildConfig.from_dict(
        {
            "max_radius_mm": None,
            "max_fit_rms_mm": None,
            "max_chi2_z": None,
            "double_hit_distance_mm": None,
        }
    )
    assert off.selection().max_fit_rms_mm is None and off.selection().max_chi2_z is None
    with pytest.raises(ConfigError, match="unknown build option"):
        BuildConfig.from_dict({"beam": 3})
    with pytest.raises(ConfigError, match="max_hits"):
        BuildConfig(max_hits=2)
    path = tmp_path / "config.json"
    path.write_text('{"min_hits": 5, "max_mean_cost": 0.8}')
    assert BuildConfig.from_json(path).min_hits == 5
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        BuildConfig.from_json(path)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        BuildConfig.from_json(path)
    with pytest.raises(ConfigError, match="cannot read"):
        BuildConfig.from_json(tmp_path / "missing.json")
    assert parse_event_list(" 1000, 1001 ") == [1000, 1001] and parse_event_list(None) is None
    with pytest.raises(ConfigError, match="--events"):
        parse_event_list("1000,x")


def test_tracknet_needs_a_model(test_event: Event) -> None:
    with pytest.raises(ConfigError, match="needs a model"):
        build_event(test_event, "tracknet")
    with pytest.raises(ConfigError, match="unknown algorithm"):
        build_event(test_event, "kalman")


def test_build_directory_writes_one_submission(
    tmp_path: Path, test_event: Event, tiny_checkpoint: Path
) -> None:
    data = tmp_path / "data"
    second = test_event.with_parts(hits=test_event.hits.iloc[: len(test_event.hits) // 2])
    write_event(test_event, data, parts=["hits"])
    write_event(Event(event_id=8, hits=second.hits), data, parts=["hits"])
    out = tmp_path / "out" / "submission.csv"
    result = build_directory(data, out, algorithm="baseline", progress=False)
    assert result.n_events == 2 and result.path == out
    frame = read_submission(out)
    assert sorted(frame.event_id.unique().tolist()) == [7, 8]
    meta = read_build_meta(out)  # what `tracknet evaluate --report` reads
    assert (
        result.meta_path == out.with_name("submission.build.json")
        and meta["algorithm"] == "baseline"
    )
    assert sorted(meta["seconds_per_event"]) == ["7", "8"] and meta["config"]["beam_width"] == 3
    assert len(frame) == test_event.n_hits + len(second.hits)
    only = build_directory(
        data,
        tmp_path / "one.csv",
        algorithm="tracknet",
        checkpoint=tiny_checkpoint,
        events=[8],
        progress=False,
    )
    assert only.n_events == 1 and read_submission(
        tmp_path / "one.csv"
    ).event_id.unique().tolist() == [8]
    record = read_build_meta(tmp_path / "one.csv")
    assert record["checkpoint"] == str(tiny_checkpoint) and record["radius_scale"] > 0
    # Bad inputs: one line, and no output file.
    foreign = tmp_path / "foreign.ckpt"
    import torch

    torch.save({"state_dict": {"w": torch.zeros(2)}, "hyper_parameters": {"lr": 0.1}}, foreign)
    cases = [
        (
            {"algorithm": "tracknet", "checkpoint": foreign},
            CheckpointError,
            "not a StepAhead TrackNET checkpoint",
        ),
        ({"algorithm": "tracknet"}, ConfigError, "needs --checkpoint"),
        ({"algorithm": "kalman"}, ConfigError, "unknown algorithm"),
        ({"algorithm": "baseline", "events": [1234]}, DataError, "not found"),
    ]
    for kwargs, error, message in cases:
        target = tmp_path / "bad.csv"
        with pytest.raises(error, match=message) as info:
            build_directory(data, target, progress=False, **kwargs)  # type: ignore[arg-type]
        assert "\n" not in str(info.value)
        assert not target.exists() and not target.with_name("bad.build.json").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no TrackML events"):
        build_directory(
            tmp_path / "empty", tmp_path / "bad.csv", algorithm="baseline", progress=False
        )
    assert not (tmp_path / "bad.csv").exists()
    assert np.all(frame.track_id.to_numpy() >= 0)
