"""Synthetic and semi-synthetic straw events: labels kept, ids unique, background unchanged."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tracknet.augment.overlay import choose_entries, iter_straw_overlay
from tracknet.augment.run import PROVENANCE_FILE, build_library, overlay_to_directory
from tracknet.errors import ConfigError
from tracknet.events import CROSSTALK_PARTICLE_ID, NOISE_PARTICLE_ID, UNLABELLED_PARTICLE_ID
from tracknet.io.straw import DATASET_FILE, StrawDataset
from tracknet.simulation.straw import StrawBatch, StrawResponse


def _library_hits(library, entry: int) -> pd.DataFrame:
    lo, hi = library.offsets[entry], library.offsets[entry + 1]
    return pd.DataFrame(
        {c: library.hits[c][lo:hi] for c in ("straw_id", "drift_mm", "tx", "ty", "tpx", "tpy")}
    )


def _entry_index(library) -> dict[tuple[int, int], int]:
    return {
        (int(e), int(p)): i
        for i, (e, p) in enumerate(
            zip(
                library.entries["source_event_id"],
                library.entries["source_particle_id"],
                strict=False,
            )
        )
    }


def test_choose_entries_distinct_and_uniform() -> None:
    rng = np.random.default_rng(0)
    for n_lib, k in ((50, 3), (6, 4), (3, 3)):
        choice = choose_entries(n_lib, 4000, k, rng)
        assert choice.shape == (4000, k)
        assert np.all(np.sort(choice, axis=1)[:, 1:] != np.sort(choice, axis=1)[:, :-1])
        counts = np.bincount(choice.ravel(), minlength=n_lib)
        assert np.all(np.abs(counts - counts.mean()) < 6 * math.sqrt(counts.mean()))
    with pytest.raises(ConfigError, match="holds 3 track"):
        choose_entries(3, 1, 4, rng)


def test_synthetic_overlay_keeps_labels(straw_source: Path, ideal_response: StrawResponse) -> None:
    library = build_library(straw_source)
    provenance: list[pd.DataFrame] = []
    batch = StrawBatch.concat(
        iter_straw_overlay(
            library,
            n_events=300,
            tracks_per_event=2,
            seed=5,
            response=ideal_response,
            provenance=provenance,
        )
    )
    batch.validate()
    prov = pd.concat(provenance, ignore_index=True)
    assert len(batch) == 300 and len(prov) == 600
    assert np.all(batch.events["n_tracks"] == 2)
    index = _entry_index(library)
    h = batch.hits
    for event in batch.slice(0, 80).iter_events():
        assert np.array_equal(event.hits["hit_id"], np.arange(1, event.n_hits + 1))
        assert sorted(event.particles["particle_id"]) == [1, 2]
        assert set(event.truth["particle_id"]) <= {1, 2}
        rows = prov[prov["event_id"] == event.event_id]
        straws_per_track = []
        for _, row in rows.iterrows():
            expected = _library_hits(library, index[(row.source_event_id, row.source_particle_id)])
            mine = event.truth["particle_id"].to_numpy() == row.particle_id
            got = pd.DataFrame(
                {
                    "straw_id": event.hits["straw_id"].to_numpy()[mine],
                    "drift_mm": event.hits["drift_mm"].to_numpy()[mine],
                    **{c: event.truth[c].to_numpy()[mine] for c in ("tx", "ty", "tpx", "tpy")},
                }
            )
            # Every overlaid hit is one of the track's library hits, unchanged.
            merged = got.merge(expected, how="left", indicator=True)
            assert (merged["_merge"] == "both").all()
            straws_per_track.append(set(expected["straw_id"]))
        # Hits are lost only to the other track on a shared straw.
        assert set(event.hits["straw_id"]) == straws_per_track[0] | straws_per_track[1]
    assert np.unique(h["event_id"] * 10_000 + h["straw_id"]).size == len(h["event_id"])


def test_synthetic_with_noise_crosstalk_and_singles(tmp_path: Path, straw_source: Path) -> None:
    record = overlay_to_directory(
        straw_source,
        tmp_path / "a",
        n_events=500,
        tracks_per_event=3,
        seed=2,
        noise_rate=0.004,
        crosstalk=0.05,
        with_singles=True,
        events_per_chunk=256,
    )
    library = build_library(straw_source)
    assert record["kind"] == "synthetic" and record["n_events"] == 500 + len(library)
    assert (
        record["parameters"]["response"]["noise_rate"] == 0.004
        and PROVENANCE_FILE in record["sha256"]
    )
    dataset = StrawDataset.open(tmp_path / "a")
    batch = dataset.read_all()
    h = batch.hits
    assert np.array_equal(batch.events["event_id"], np.arange(500 + len(library)))
    overlays = h["event_id"] < 500
    noise = (h["particle_id"] == NOISE_PARTICLE_ID) & overlays
    expected = 0.004 * 1024 * 500
    assert (
        abs(noise.sum() - expected) < 5 * math.sqrt(expected) + 0.02 * expected
    )  # a few lost under track hits
    crosstalk = np.flatnonzero(h["particle_id"] == CROSSTALK_PARTICLE_ID)
    assert len(crosstalk) > 100
    fired = set(
        zip(
            h["event_id"][h["particle_id"] > 0].tolist(),
            h["straw_id"][h["particle_id"] > 0].tolist(),
            strict=False,
        )
    )
    for i in crosstalk:
        e, s = int(h["event_id"][i]), int(h["straw_id"][i])
        assert (e, s - 1) in fired or (e, s + 1) in fired
    # The singles: event 500 + j holds library track j alone.
    prov = pd.read_csv(tmp_path / "a" / PROVENANCE_FILE)
    singles = prov[prov["event_id"] >= 500]
    assert len(singles) == len(library) and (singles.groupby("event_id").size() == 1).all()
    index = _entry_index(library)
    for event_id in (500, 500 + len(library) - 1):
        event = dataset.read_event(event_id)
        row = singles[singles["event_id"] == event_id].iloc[0]
        expected = _library_hits(library, index[(row.source_event_id, row.source_particle_id)])
        track = event.truth["particle_id"].to_numpy() == 1
        assert set(event.hits["straw_id"][track]) == set(expected["straw_id"])
    # Same seed, same bytes; a shorter run holds the same first events.
    overlay_to_directory(
        straw_source,
        tmp_path / "b",
        n_events=500,
        tracks_per_event=3,
        seed=2,
        noise_rate=0.004,
        crosstalk=0.05,
        with_singles=True,
        events_per_chunk=256,
    )

    def digest(d):
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in d.iterdir()
            if p.name != DATASET_FILE
        }

    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    overlay_to_directory(
        straw_source,
        tmp_path / "c",
        n_events=10,
        tracks_per_event=3,
        seed=2,
        noise_rate=0.004,
        crosstalk=0.05,
    )
    short = StrawDataset.open(tmp_path / "c").read_all()
    long = batch.slice(0, 10)
    for column, values in short.hits.items():
        assert np.array_equal(values, long.hits[column]), column


def test_semi_synthetic_straw_keeps_background(
    tmp_path: Path, straw_source: Path, straw_background: Path
) -> None:
    record = overlay_to_directory(
        straw_source, tmp_path, n_events=60, tracks_per_event=2, seed=4, background=straw_background
    )
    assert (
        record["kind"] == "semi-synthetic" and record["parameters"]["response"]["noise_rate"] == 0.0
    )
    background = StrawDataset.open(straw_background).read_all()
    out = StrawDataset.open(tmp_path).read_all()
    library = build_library(straw_source)
    index = _entry_index(library)
    prov = pd.read_csv(tmp_path / PROVENANCE_FILE)
    columns = (
        "hit_id",
        "x",
        "y",
        "z",
        "volume_id",
        "layer_id",
        "module_id",
        "straw_id",
        "drift_mm",
    )
    for row in range(len(out)):
        event = out.event(row)
        bg = background.event(event.event_id % len(background))
        assert event.meta["time_in_fill_us"] is None and event.meta["n_tracks"] == 2
        n_bg = bg.n_hits
        original = event.hits.iloc[:n_bg]
        assert original[list(columns)].reset_index(drop=True).equals(bg.hits[list(columns)])
        truth_bg = event.truth.iloc[:n_bg]
        assert np.all(truth_bg["particle_id"] == UNLABELLED_PARTICLE_ID) and np.all(
            truth_bg["weight"] == 0
        )
        assert np.array_equal(truth_bg["tx"], bg.hits["x"]) and np.all(truth_bg["tpx"] == 0)
        added = event.hits.iloc[n_bg:]
        top = int(bg.hits["hit_id"].max()) if n_bg else 0
        assert np.all(added["hit_id"].to_numpy() > top)
        assert event.hits["hit_id"].is_unique
        # The added labelled hits are exactly the library hits on straws the background left free.
        fired = set(bg.hits["straw_id"])
        expected = set()
        for _, p in prov[prov["event_id"] == event.event_id].iterrows():
            lib = _library_hits(library, index[(p.source_event_id, p.source_particle_id)])
            expected |= {(p.particle_id, s) for s in lib["straw_id"] if s not in fired}
        labelled = event.truth["particle_id"].to_numpy() > 0
        got = set(
            zip(
                event.truth["particle_id"][labelled], event.hits["straw_id"][labelled], strict=False
            )
        )
        # Where both tracks cross the same free straw only one of them keeps it.
        assert got <= expected
        assert {s for _, s in got} == {s for _, s in expected} and len({s for _, s in got}) == len(
            got
        )
        other = event.truth["particle_id"].to_numpy()[n_bg:]
        assert set(other) <= {1, 2, CROSSTALK_PARTICLE_ID}
