"""Track-based alignment of a misaligned straw detector from its own unlabelled events:
the constants, the builder at the aligned positions, the file and the command."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cli_helpers import assert_one_line_error, invoke
from tracknet.building.straw import StrawBuildConfig, build_straw_batch
from tracknet.building.straw.align import AlignmentConfig, estimate_alignment, weak_modes_removed
from tracknet.building.straw.alignment import StrawAlignment, load_alignment
from tracknet.errors import ConfigError, DataError
from tracknet.evaluation.straw import evaluate_straw
from tracknet.simulation.straw import (
    REAL_DETECTOR,
    Occupancy,
    StrawBatch,
    StrawConfig,
    StrawGeometry,
    simulate_straw_batch,
)
from tracknet.simulation.straw.conditions import REAL_RESPONSE

GEOMETRY = StrawGeometry()
#: The "real" detector's misalignments in the design field (the field is not aligned).
MISALIGNED = StrawConfig(
    conditions=replace(REAL_DETECTOR, field_scale=1.0, field_gradient_per_m=0.0),
    response=REAL_RESPONSE,
)
LATE = replace(
    MISALIGNED, occupancy=Occupancy(mean=8.0, time_in_fill_us=150.0, time_in_fill_max_us=300.0)
)


def _figures(batch: StrawBatch, config: StrawBuildConfig) -> dict[str, float]:
    truth = pd.DataFrame(
        {c: batch.hits[c] for c in ("event_id", "hit_id", "particle_id", "weight")}
    )
    summary = evaluate_straw(truth, build_straw_batch(batch, GEOMETRY, "baseline", config=config))
    return {k: float(v) for k, v in summary.summary.items() if isinstance(v, (int, float))}


@pytest.fixture(scope="module")
def aligned(tmp_path_factory: pytest.TempPathFactory) -> tuple[StrawAlignment, Path]:
    late = simulate_straw_batch(LATE, 20000, 31).without_labels()  # no truth to read
    alignment = estimate_alignment(late, GEOMETRY, meta={"source": "test"})
    path = alignment.save(tmp_path_factory.mktemp("alignment") / "align.json")
    return alignment, path


def test_the_offsets_found_without_truth_are_the_detectors_own(
    aligned: tuple[StrawAlignment, Path],
) -> None:
    alignment, _ = aligned
    true = MISALIGNED.conditions.build(GEOMETRY).straw_dy
    measured = alignment.straw_dy_mm != 0
    assert measured.sum() > 0.6 * GEOMETRY.n_straws
    # Compared where tracks can see them: less the offsets that only move tracks onto
    # other circles.
    weight = measured.astype(float)
    expected = weak_modes_removed(true, GEOMETRY.straw_x, weight)[measured]
    found = weak_modes_removed(alignment.straw_dy_mm, GEOMETRY.straw_x, weight)[measured]
    assert np.corrcoef(expected, found)[0, 1] > 0.9
    assert np.sqrt(np.mean((found - expected) ** 2)) < 0.5 * np.sqrt(np.mean(expected**2))
    rounds = alignment.meta["rounds"]
    assert rounds[-1]["residual_rms_mm_after"] < 0.7 * rounds[0]["residual_rms_mm_before"]
    assert alignment.meta["source"] == "test"


def test_building_at_the_aligned_positions_recovers_the_misaligned_detectors_tracks(
    aligned: tuple[StrawAlignment, Path],
) -> None:
    _, path = aligned
    production = simulate_straw_batch(MISALIGNED, 1500, 4)
    design = _figures(production, StrawBuildConfig())
    at_alignment = _figures(production, StrawBuildConfig(alignment=str(path)))
    nominal = _figures(
        simulate_straw_batch(StrawConfig(response=REAL_RESPONSE), 1500, 4), StrawBuildConfig()
    )
    # Loose floors: the misalignment costs found tracks and splits them; aligned, the
    # builder is near its figures on the design detector.
    assert design["split_fraction"] > 3 * nominal["split_fraction"]
    assert at_alignment["found_fraction"] > design["found_fraction"] + 0.02
    assert at_alignment["split_fraction"] < 0.5 * design["split_fraction"]
    assert at_alignment["precision_on_found_tracks"] > design["precision_on_found_tracks"] + 0.05
    assert at_alignment["found_fraction"] > nominal["found_fraction"] - 0.02


def test_the_same_events_give_the_same_constants() -> None:
    late = simulate_straw_batch(LATE, 4000, 7).without_labels()
    config = AlignmentConfig(rounds=1, iterations=2, min_straw_hits=5)
    first = estimate_alignment(late, GEOMETRY, config)
    second = estimate_alignment(late, GEOMETRY, config)
    assert np.any(first.straw_dy_mm != 0)
    assert first.straw_dy_mm.tobytes() == second.straw_dy_mm.tobytes()


def test_applying_constants_moves_only_the_hits_y(aligned: tuple[StrawAlignment, Path]) -> None:
    alignment, path = aligned
    batch = simulate_straw_batch(MISALIGNED, 20, 3)
    moved = load_alignment(path).apply(batch, GEOMETRY)
    np.testing.assert_allclose(
        moved.hits["y"] - batch.hits["y"], alignment.straw_dy_mm[batch.hits["straw_id"]], atol=1e-6
    )
    for column in set(batch.hits) - {"y"}:
        np.testing.assert_array_equal(moved.hits[column], batch.hits[column])


def test_a_bad_alignment_file_is_one_line(
    aligned: tuple[StrawAlignment, Path], tmp_path: Path
) -> None:
    _, path = aligned
    record = json.loads(path.read_text())
    cases = {
        "missing.json": None,
        "text.json": "not json",
        "other.json": json.dumps({"format": "something else"}),
        "short.json": json.dumps({**record, "straw_dy_mm": record["straw_dy_mm"][:-1]}),
        "nan.json": json.dumps({**record, "straw_dy_mm": ["nan"] * len(record["straw_dy_mm"])}),
    }
    for name, text in cases.items():
        if text is not None:
            (tmp_path / name).write_text(text)
        with pytest.raises(ConfigError) as caught:
            load_alignment(tmp_path / name)
        assert str(tmp_path / name) in str(caught.value) and "\n" not in str(caught.value)
    other = StrawGeometry(straws_per_layer=16)
    with pytest.raises(DataError, match="another straw geometry"):
        load_alignment(path).apply(simulate_straw_batch(StrawConfig(geometry=other), 2, 1), other)
    with pytest.raises(ConfigError, match="alignment must be a path"):
        StrawBuildConfig(alignment=" ")


def test_the_align_command_writes_constants_the_build_uses(tmp_path: Path) -> None:
    late, prod = tmp_path / "late", tmp_path / "prod"
    for out, events, extra in (
        (late, 6000, ["--tracks-mean", "8", "--time-in-fill", "150", "--time-in-fill-max", "300"]),
        (prod, 50, []),
    ):
        result = invoke(
            "simulate", "straw", "--detector", "real", "--out", str(out), "--events",
            str(events), "--seed", "31", "--truth-out", f"{out}-truth", "--no-progress", *extra,
        )  # fmt: skip
        assert result.code == 0, result.err
    (tmp_path / "settings.json").write_text(json.dumps({"min_straw_hits": 5, "rounds": 1}))
    result = invoke(
        "align", "--data-dir", str(late), "--out", str(tmp_path / "a.json"), "--json",
        "--config", str(tmp_path / "settings.json"),
    )  # fmt: skip
    assert result.code == 0, result.err
    summary = json.loads(result.out.strip().splitlines()[-1])
    assert summary["tracks"] > 100 and summary["straws_aligned"] > 100
    assert summary["residual_rms_mm_after"] < summary["residual_rms_mm_before"]
    (tmp_path / "c.json").write_text(json.dumps({"alignment": str(tmp_path / "a.json")}))
    result = invoke(
        "build", "--algorithm", "baseline", "--data-dir", str(prod), "--out",
        str(tmp_path / "s.csv"), "--config", str(tmp_path / "c.json"), "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.err
    (tmp_path / "bad.json").write_text(json.dumps({"alignment": str(tmp_path / "none.json")}))
    result = invoke(
        "build", "--algorithm", "baseline", "--data-dir", str(prod), "--out",
        str(tmp_path / "t.csv"), "--config", str(tmp_path / "bad.json"), "--no-progress",
    )  # fmt: skip
    assert_one_line_error(result, "straw alignment", "none.json", "not found")
    assert not (tmp_path / "t.csv").exists()
    result = invoke("align", "--data-dir", str(tmp_path), "--out", str(tmp_path / "b.json"))
    assert_one_line_error(result, "straw datasets only")
    assert not (tmp_path / "b.json").exists()


def test_the_library_and_the_training_read_the_events_at_the_alignment(
    aligned: tuple[StrawAlignment, Path], tmp_path: Path
) -> None:
    from tracknet.augment.fit_selection import fit_selected_tracks
    from tracknet.training.settings import DataSettings, StrawDataSettings
    from tracknet.training.straw_data import StrawDataModule

    alignment, path = aligned
    late = simulate_straw_batch(LATE, 6000, 11)
    criteria = {"min_hits": 12, "max_other_hits": 4, "max_fit_rms_mm": 1.0}
    errors = []
    for batch in (late.without_labels(), alignment.apply(late.without_labels(), GEOMETRY)):
        rows, entries, fitted = fit_selected_tracks(batch, GEOMETRY, 1.45, **criteria)
        real = late.hits["particle_id"][rows] > 0
        errors.append((len(entries), np.median(np.abs(fitted["ty"] - late.hits["ty"][rows])[real])))
    # At the aligned positions more events give a clean track, and its fit is nearer the truth.
    assert errors[1][0] > errors[0][0] and errors[1][1] < 0.7 * errors[0][1]

    data = tmp_path / "labelled"
    result = invoke(
        "simulate", "straw", "--detector", "real", "--out", str(data), "--events", "200",
        "--seed", "5", "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.err
    coords = []
    for where in (None, str(path)):
        settings = DataSettings(
            source="straw", dir=str(data), dims=(0, 1), straw=StrawDataSettings(alignment=where)
        )
        module = StrawDataModule(settings, progress=False)
        module.setup()
        assert module.train_tracks is not None
        assert module.describe()["alignment"] == where
        coords.append(module.train_tracks.coords[:, 1] * settings.scale_mm)
    moved = coords[1] - coords[0]
    assert np.abs(moved).max() > 0.1
    assert np.abs(moved).max() <= np.abs(alignment.straw_dy_mm).max() + 1e-3
