"""TrackML overlays: a semi-synthetic event on a real unlabelled event keeps every original
hit and adds exactly the overlaid tracks' hits; synthetic TrackML events keep labels."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_small_event, shared_path
from tracknet.augment.library import LibraryCriteria, trackml_library
from tracknet.augment.overlay import trackml_overlay_event
from tracknet.augment.run import PROVENANCE_FILE, build_library, overlay_to_directory
from tracknet.errors import ConfigError, DataError
from tracknet.events import HITS_SCHEMA, UNLABELLED_PARTICLE_ID
from tracknet.io.straw import DATASET_FILE, read_dataset_record, sha256_file
from tracknet.io.trackml import read_event, write_event


def _library_rows(library, entry: int) -> pd.DataFrame:
    lo, hi = library.offsets[entry], library.offsets[entry + 1]
    return pd.DataFrame({c: library.hits[c][lo:hi] for c in library.hits})


def test_semi_synthetic_on_a_real_unlabelled_event(tmp_path: Path) -> None:
    real_dir = shared_path("unlabeled")
    real = read_event(shared_path("unlabeled", "event000001001"), parts=("hits",))
    source = shared_path("event1000-barrel", "ez-0.1")
    # Event id 0 takes background 0 of the directory: event 1001.
    record = overlay_to_directory(
        source, tmp_path, n_events=1, tracks_per_event=25, seed=8, background=real_dir
    )
    assert record["kind"] == "semi-synthetic" and record["detector"] == "trackml"
    for name, digest in record["sha256"].items():
        assert sha256_file(tmp_path / name) == digest
    event = read_event(tmp_path / "event000000000")
    n = real.n_hits
    # Every original hit unchanged: same ids, positions and detector ids, same order.
    assert event.hits.iloc[:n].reset_index(drop=True).equals(real.hits)
    truth = event.truth.iloc[:n]
    assert np.all(truth["particle_id"] == UNLABELLED_PARTICLE_ID) and np.all(truth["weight"] == 0)
    assert np.array_equal(
        truth[["tx", "ty", "tz"]].to_numpy(), real.hits[["x", "y", "z"]].to_numpy()
    )
    assert np.all(truth[["tpx", "tpy", "tpz"]].to_numpy() == 0)
    # Exactly the overlaid tracks' hits added, with new unique ids above the real ones.
    added_hits = event.hits.iloc[n:]
    added_truth = event.truth.iloc[n:]
    assert event.hits["hit_id"].is_unique
    assert added_hits["hit_id"].min() == real.hits["hit_id"].max() + 1
    library = build_library(source, LibraryCriteria(max_tracks=None))
    prov = pd.read_csv(tmp_path / PROVENANCE_FILE)
    assert len(prov) == 25 and set(prov["background_event_id"]) == {1001}
    index = {
        (e, p): i
        for i, (e, p) in enumerate(
            zip(
                library.entries["source_event_id"],
                library.entries["source_particle_id"],
                strict=False,
            )
        )
    }
    expected = []
    for _, row in prov.iterrows():
        rows = _library_rows(library, index[(row.source_event_id, row.source_particle_id)])
        expected.append(rows.assign(particle_id=row.particle_id))
    expected_frame = pd.concat(expected, ignore_index=True)
    got = pd.concat(
        [
            added_hits.reset_index(drop=True).drop(columns="hit_id"),
            added_truth.reset_index(drop=True)[
                ["particle_id", "tx", "ty", "tz", "tpx", "tpy", "tpz"]
            ],
        ],
        axis=1,
    )
    key = ["particle_id", "x", "y", "z"]
    assert (
        got.sort_values(key)
        .reset_index(drop=True)[expected_frame.columns.tolist()]
        .equals(expected_frame.sort_values(key).reset_index(drop=True).astype(got.dtypes.to_dict()))
    )
    # Particles: the overlaid ones only, with their hit counts; weights sum to 1 on them.
    assert sorted(event.particles["particle_id"]) == list(range(1, 26))
    assert np.array_equal(
        event.particles.sort_values("particle_id")["nhits"].to_numpy(),
        added_truth["particle_id"].value_counts().sort_index().to_numpy(),
    )
    assert added_truth["weight"].sum() == pytest.approx(1.0)


def test_semi_synthetic_event_in_memory() -> None:
    source = make_small_event(event_id=2, n_particles=5)
    background = make_small_event(event_id=9, n_particles=3).with_parts(truth=None, particles=None)
    library = trackml_library([source], LibraryCriteria(max_tracks=None))
    event = trackml_overlay_event(library, np.array([4, 1]), 77, background)
    n = background.n_hits
    assert event.event_id == 77 and event.meta == {
        "detector": "trackml",
        "kind": "semi-synthetic",
        "background_event_id": 9,
    }
    assert event.hits.iloc[:n].equals(background.hits) and list(event.hits.columns) == list(
        HITS_SCHEMA
    )
    assert np.array_equal(
        event.hits["hit_id"].to_numpy()[n:], background.hits["hit_id"].max() + 1 + np.arange(10)
    )
    # New particle 1 is entry 4 (source particle 1004, module 5), 2 is entry 1 (module 2):
    # overlaid hits follow (volume, layer, module), so they alternate 2, 1 layer by layer.
    assert event.truth["particle_id"].to_numpy()[n:].tolist() == [2, 1] * 5
    src = source.hits.merge(source.truth[["hit_id", "particle_id"]], on="hit_id")
    for new, old in ((1, 1004), (2, 1001)):
        mine = event.truth["particle_id"].to_numpy() == new
        assert np.array_equal(
            event.hits.loc[mine, ["x", "y", "z"]].to_numpy(),
            src.loc[src.particle_id == old, ["x", "y", "z"]].to_numpy(),
        )
    assert event.particles["px"].tolist() == [source.particles["px"][4], source.particles["px"][1]]
    assert event.truth["weight"].iloc[:n].eq(0).all() and event.truth[
        "weight"
    ].sum() == pytest.approx(1.0)


def test_synthetic_trackml_directory(tmp_path: Path) -> None:
    write_event(make_small_event(event_id=3, n_particles=8, n_noise=5), tmp_path / "source")
    out = tmp_path / "out"
    record = overlay_to_directory(
        tmp_path / "source", out, n_events=4, tracks_per_event=3, seed=1, with_singles=True
    )
    assert record["kind"] == "synthetic" and record["n_events"] == 4 + 8
    for event_id in range(12):
        event = read_event(out / f"event{event_id:09d}")
        pid = event.truth["particle_id"].to_numpy()
        k = 3 if event_id < 4 else 1
        assert sorted(set(pid)) == list(range(1, k + 1)) and event.n_hits == 5 * k
        assert np.array_equal(event.hits["hit_id"], np.arange(1, 5 * k + 1))
        assert event.truth["weight"].sum() == pytest.approx(1.0)
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    overlay_to_directory(tmp_path / "source", out, n_events=2, tracks_per_event=3, seed=1)
    # A shorter rerun leaves no stale event of the longer one, and its events are unchanged.
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [DATASET_FILE, PROVENANCE_FILE]
        + [f"event{e:09d}-{part}.csv" for e in range(2) for part in ("hits", "truth", "particles")]
    )
    for name in ("event000000000-hits.csv", "event000000001-truth.csv"):
        assert (
            hashlib.sha256((out / name).read_bytes()).digest()
            == hashlib.sha256(first[name]).digest()
        )
    assert read_dataset_record(out)["n_events"] == 2


def test_trackml_overlay_errors(tmp_path: Path) -> None:
    source = tmp_path / "source"
    write_event(make_small_event(event_id=3), source)
    background = tmp_path / "bg"
    write_event(make_small_event(event_id=5).with_parts(truth=None, particles=None), background)
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="straw events only"):
        overlay_to_directory(source, out, n_events=1, tracks_per_event=2, noise_rate=0.01)
    with pytest.raises(ConfigError, match="holds 4 track"):
        overlay_to_directory(source, out, n_events=1, tracks_per_event=5)
    with pytest.raises(ConfigError, match="with singles"):
        overlay_to_directory(
            source, out, n_events=1, tracks_per_event=2, background=background, with_singles=True
        )
    with pytest.raises(DataError, match="truth"):
        overlay_to_directory(background, out, n_events=1, tracks_per_event=1)
    with pytest.raises(DataError, match="passes the library criteria"):
        overlay_to_directory(
            source,
            out,
            n_events=1,
            tracks_per_event=1,
            criteria=LibraryCriteria(max_tracks=None, min_hits=50),
        )
    with pytest.raises(ConfigError, match="source directory"):
        overlay_to_directory(source, source, n_events=1, tracks_per_event=1)
    assert not out.exists()
