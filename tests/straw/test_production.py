"""The stand-in for the experiment: production events of the "real" straw detector stored
without labels, their truth in a separate dataset that only the evaluation reads, and an
isolated-track library selected from them without truth."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from tests.cli_helpers import assert_one_line_error, invoke
from tracknet.augment.fit_selection import fit_selected_tracks
from tracknet.augment.library import LibraryCriteria
from tracknet.events import UNLABELLED_PARTICLE_ID
from tracknet.io.straw import StrawDataset
from tracknet.simulation.straw import StrawGeometry

#: Late in the fill: mostly zero or one track per event.
LATE = ["--tracks-mean", "8", "--time-in-fill", "150", "--time-in-fill-max", "300"]


def _simulate(out: Path, truth: Path | None, *options: str, events: int = 2000) -> None:
    extra = [] if truth is None else ["--truth-out", str(truth)]
    result = invoke(
        "simulate", "straw", "--detector", "real", "--out", str(out), "--events", str(events),
        "--seed", "31", "--no-progress", *extra, *options,
    )  # fmt: skip
    assert result.code == 0, result.err


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("production")
    _simulate(root / "prod", root / "truth")
    return root / "prod", root / "truth"


@pytest.fixture(scope="module")
def late(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("late")
    _simulate(root / "late", root / "truth", *LATE, events=6000)
    return root / "late", root / "truth"


def test_production_events_carry_no_labels_and_their_truth_is_apart(
    production: tuple[Path, Path], tmp_path: Path
) -> None:
    prod_dir, truth_dir = production
    prod, truth = StrawDataset.open(prod_dir), StrawDataset.open(truth_dir)
    assert not prod.labelled and truth.labelled
    record = json.loads((prod_dir / "tracknet-dataset.json").read_text())
    assert "conditions" not in record["parameters"]["config"]  # how the detector differs
    b, t = prod.read_all(), truth.read_all()
    assert np.all(b.hits["particle_id"] == UNLABELLED_PARTICLE_ID)
    assert len(b.particles["particle_id"]) == 0 and np.all(b.events["n_tracks"] == -1)
    for column in ("tpx", "tpy", "weight"):
        assert not b.hits[column].any()
    np.testing.assert_array_equal(b.hits["tx"], b.hits["x"])
    for column in ("event_id", "hit_id", "straw_id", "drift_mm", "x", "y", "time_in_fill_us"):
        table = "events" if column == "time_in_fill_us" else "hits"
        np.testing.assert_array_equal(getattr(b, table)[column], getattr(t, table)[column])
    assert (t.hits["particle_id"] > 0).mean() > 0.8
    # The same seed gives the same bytes, for both.
    _simulate(tmp_path / "prod", tmp_path / "truth")
    assert _digests(tmp_path / "prod") == _digests(prod_dir)
    assert _digests(tmp_path / "truth") == _digests(truth_dir)


def test_evaluate_reads_the_labels_of_production_events_from_their_truth(
    production: tuple[Path, Path], tmp_path: Path
) -> None:
    prod, truth = production
    sub = tmp_path / "base.csv"
    built = invoke("build", "--algorithm", "baseline", "--data-dir", str(prod), "--out", str(sub))
    assert built.code == 0, built.err
    args = ["evaluate", "--submission", str(sub), "--json"]
    with_truth = invoke(*args, "--data-dir", str(prod), "--truth", str(truth))
    assert with_truth.code == 0, with_truth.err
    direct = invoke(*args, "--data-dir", str(truth))
    assert json.loads(with_truth.out) == json.loads(direct.out)
    assert json.loads(direct.out)["found_fraction"] > 0.7
    assert_one_line_error(invoke(*args, "--data-dir", str(prod)), "without labels", "--truth")
    assert_one_line_error(invoke(*args, "--data-dir", str(prod), "--truth", str(prod)), "no labels")


def test_a_truth_of_other_events_is_refused(production: tuple[Path, Path], tmp_path: Path) -> None:
    prod, _ = production
    _simulate(tmp_path / "other", tmp_path / "other-truth", "--seed", "32")
    sub = tmp_path / "base.csv"
    assert (
        invoke("build", "--algorithm", "baseline", "--data-dir", str(prod), "--out", str(sub)).code
        == 0
    )
    assert_one_line_error(
        invoke(
            "evaluate",
            "--data-dir",
            str(prod),
            "--submission",
            str(sub),
            "--truth",
            str(tmp_path / "other-truth"),
        ),
        "does not hold the events",
    )


def test_production_events_cannot_train(production: tuple[Path, Path], tmp_path: Path) -> None:
    result = invoke(
        "train", "experiment=straw", f"data.dir={production[0]}", f"run.output_dir={tmp_path}"
    )
    assert_one_line_error(result, "without labels cannot train")


def test_the_library_of_events_without_labels_is_selected_without_truth(
    late: tuple[Path, Path],
) -> None:
    """The selection gives the same tracks whether the labels are there or not, and the
    tracks it takes are pure (checked against the truth file)."""
    late_dir, truth_dir = late
    prod, truth = StrawDataset.open(late_dir), StrawDataset.open(truth_dir)
    geometry = StrawGeometry.from_dict(prod.geometry_parameters())
    defaults = LibraryCriteria()
    criteria = {
        "min_hits": defaults.min_hits,
        "max_other_hits": defaults.max_other_hits,
        "max_fit_rms_mm": defaults.max_fit_rms_mm,
    }
    rows, entries, fitted = fit_selected_tracks(prod.read_all(), geometry, 1.45, **criteria)
    labelled = truth.read_all()
    again, _, refit = fit_selected_tracks(labelled, geometry, 1.45, **criteria)
    np.testing.assert_array_equal(rows, again)
    np.testing.assert_array_equal(fitted["ty"], refit["ty"])
    assert len(entries) > 600
    pid = labelled.hits["particle_id"][rows]
    event = labelled.hits["event_id"][rows]
    keys = np.unique(np.stack([event, pid], axis=1), axis=0)
    per_event = np.bincount(np.searchsorted(np.unique(event), keys[:, 0]))
    assert (per_event == 1).mean() > 0.97  # one particle per selected track
    on_track = pid > 0
    assert on_track.mean() > 0.99
    # The fitted points are the true ones within the resolution and the misalignments.
    assert np.median(np.abs(fitted["ty"] - labelled.hits["ty"][rows])[on_track]) < 0.4
    p_fit = np.hypot(fitted["tpx"], fitted["tpy"])
    p_true = np.hypot(labelled.hits["tpx"][rows], labelled.hits["tpy"][rows])
    moving = on_track & (p_true > 0)
    assert np.median(np.abs(p_fit[moving] / p_true[moving] - 1)) < 0.1


def test_overlays_on_production_events(
    late: tuple[Path, Path], production: tuple[Path, Path], tmp_path: Path
) -> None:
    """Synthetic events from the fit-selected library, semi-synthetic ones on production
    events: only the overlaid tracks are labelled."""
    out = tmp_path / "semi"
    result = invoke(
        "overlay", "--source", str(late[0]), "--background", str(production[0]), "--out",
        str(out), "--events", "200", "--tracks-per-event", "2", "--seed", "4", "--no-progress",
    )  # fmt: skip
    assert result.code == 0, result.err
    semi = StrawDataset.open(out).read_all()
    labels = semi.hits["particle_id"]
    assert set(np.unique(labels[labels > 0])) == {1, 2}
    assert (labels == UNLABELLED_PARTICLE_ID).any()
