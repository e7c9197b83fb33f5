"""Isolated-track libraries from straw datasets and TrackML events."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_small_event
from tracknet.augment.library import LibraryCriteria, straw_library, trackml_library
from tracknet.augment.run import build_library
from tracknet.errors import ConfigError, DataError
from tracknet.io.straw import StrawDataset
from tracknet.io.trackml import write_event


def test_straw_library_takes_isolated_tracks(straw_source: Path) -> None:
    source = StrawDataset.open(straw_source).read_all()
    library = build_library(straw_source)
    assert library.detector == "straw" and library.geometry is not None and len(library) > 100
    h = source.hits
    labelled = h["particle_id"] > 0
    tracks = pd.DataFrame({"e": h["event_id"][labelled], "p": h["particle_id"][labelled]})
    per_event = tracks.drop_duplicates().groupby("e").size()
    sizes = tracks.groupby(["e", "p"]).size()
    expected = sorted((e, p) for (e, p), n in sizes.items() if per_event[e] == 1 and n >= 5)
    got = sorted(
        zip(
            library.entries["source_event_id"].tolist(),
            library.entries["source_particle_id"].tolist(),
            strict=False,
        )
    )
    assert got == expected
    # Each entry holds exactly its track's labelled hits, in their source order.
    for i in (0, 7, len(library) - 1):
        e, p = got[i]
        rows = np.flatnonzero((h["event_id"] == e) & (h["particle_id"] == p))
        lo, hi = library.offsets[i], library.offsets[i + 1]
        for column in ("straw_id", "drift_mm", "tx", "ty", "tpx", "tpy"):
            assert np.array_equal(library.hits[column][lo:hi], h[column][rows])
        part = (source.particles["event_id"] == e) & (source.particles["particle_id"] == p)
        assert library.entries["px"][i] == source.particles["px"][part][0]
    # Looser and stricter criteria.
    every = straw_library(
        StrawDataset.open(straw_source), LibraryCriteria(max_tracks=None, min_hits=1)
    )
    assert len(every) == len(sizes)
    clean = straw_library(StrawDataset.open(straw_source), LibraryCriteria(max_other_hits=0))
    assert 0 < len(clean) < len(library)
    fast = straw_library(StrawDataset.open(straw_source), LibraryCriteria(min_pt_gev=2.0))
    assert np.all(np.hypot(fast.entries["px"], fast.entries["py"]) >= 2.0)


def test_trackml_library(tmp_path: Path) -> None:
    event = make_small_event(event_id=3, n_particles=6, hits_per_particle=5, n_noise=4)
    write_event(event, tmp_path)
    library = build_library(tmp_path)
    assert library.detector == "trackml" and len(library) == 6 and library.n_hits == 30
    assert set(library.entries["source_particle_id"]) == set(range(1000, 1006))
    direct = trackml_library([event], LibraryCriteria(max_tracks=None, min_hits=6))
    assert len(direct) == 0
    # pT of the small event's particles is 2 GeV.
    assert len(trackml_library([event], LibraryCriteria(max_tracks=None, min_pt_gev=2.5))) == 0
    assert len(trackml_library([event], LibraryCriteria(max_tracks=None, max_abs_eta=0.1))) == 0
    with pytest.raises(DataError, match="truth and particles"):
        trackml_library([event.with_parts(truth=None)])


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"min_hits": 0}, "min_hits"),
        ({"max_tracks": 0}, "max_tracks"),
        ({"max_other_hits": -1}, "max_other_hits"),
        ({"min_pt_gev": math.nan}, "min_pt_gev"),
    ],
)
def test_bad_criteria(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        LibraryCriteria(**kwargs)
