"""Track preparation on real TrackML events (skipped when ../shared/data/trackml is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import shared_path
from tracknet.data.filters import TrackFilter
from tracknet.data.tracks import TrackSet, event_tracks, trajectory_path
from tracknet.events import Event
from tracknet.io.trackml import read_event

pytestmark = pytest.mark.shared_data


def _load(*parts: str) -> tuple[Event, TrackSet]:
    event = read_event(shared_path(*parts))
    return event, event_tracks(event)


def _truth_in_track_order(event: Event, tracks: TrackSet) -> tuple[np.ndarray, np.ndarray]:
    """Truth positions and momenta of the tracks' hits, in track order (independent lookup)."""
    truth = event.truth.set_index("hit_id")  # type: ignore[union-attr]
    rows = truth.loc[tracks.hit_id]
    return rows[["tx", "ty", "tz"]].to_numpy(), rows[["tpx", "tpy", "tpz"]].to_numpy()


def test_ez01_tracks_follow_the_truth_momentum() -> None:
    event, tracks = _load("event1000-barrel", "ez-0.1", "event000001000")
    pid = event.truth["particle_id"].to_numpy()  # type: ignore[index]
    assert tracks.n_tracks == len(np.unique(pid[pid > 0]))
    assert tracks.n_hits == int((pid > 0).sum())
    pos, mom = _truth_in_track_order(event, tracks)
    track = tracks.track_index()
    same = track[1:] == track[:-1]
    step = np.diff(pos, axis=0)
    forward = (np.einsum("ij,ij->i", step, mom[:-1]) > 0) & (
        np.einsum("ij,ij->i", step, mom[1:]) > 0
    )
    bad_tracks = np.unique(track[1:][same & ~forward])
    # Only TrackML particle-id collisions (two particles under one id) may fail.
    assert len(bad_tracks) <= 0.01 * tracks.n_tracks
    np.testing.assert_array_equal(np.flatnonzero(tracks.backward_steps > 0), bad_tracks)


def test_ez01_path_increases_and_fast_tracks_have_short_steps() -> None:
    event, tracks = _load("event1000-barrel", "ez-0.1", "event000001000")
    pos, mom = _truth_in_track_order(event, tracks)
    track = tracks.track_index()
    path = trajectory_path(pos, mom, track, tracks.vertex.astype(np.float64), _p0(event, tracks))
    same = track[1:] == track[:-1]
    assert np.all(np.diff(path)[same] >= 0)  # the stored order is the trajectory order

    fast = TrackFilter(min_pt=1.0, min_hits=2, consistent_only=True).mask(tracks)
    hit_fast = fast[track]
    step = np.linalg.norm(np.diff(tracks.coords.astype(np.float64), axis=0), axis=1)
    sel = same & hit_fast[1:]
    assert sel.sum() > 300
    # barrel layers are at most ~500 mm apart along such a track (pixel -> strip gap at high |eta|)
    assert step[sel].max() < 800.0
    assert np.median(step[sel]) < 150.0
    # pT > 1 GeV cannot loop back inside the barrel (R > 1.6 m): r grows along the track
    r = np.hypot(tracks.coords[:, 0], tracks.coords[:, 1])
    assert np.all(np.diff(r)[sel] > 0)


def test_full_detector_sample_endcap_tracks_progress_in_z() -> None:
    _, tracks = _load("sample-event1", "event000000001")
    fast = TrackFilter(min_pt=1.0, min_hits=3, primaries_only=True, consistent_only=True).mask(
        tracks
    )
    track = tracks.track_index()
    sel = (track[1:] == track[:-1]) & fast[track][1:]
    endcap = np.isin(tracks.volume_id, [7, 9, 12, 14, 16, 18])
    assert (endcap[1:] & sel).sum() > 50  # end-cap hits are really being tested
    dz = np.diff(tracks.coords[:, 2].astype(np.float64)) * np.sign(tracks.eta[track][1:])
    assert np.all(dz[sel] > -1.0)  # |z| never goes back (1 mm for the measurement)
    assert (tracks.backward_steps > 0).sum() <= 0.01 * tracks.n_tracks


def _p0(event: Event, tracks: TrackSet) -> np.ndarray:
    particles = event.particles.set_index("particle_id")  # type: ignore[union-attr]
    return particles.loc[tracks.particle_id, ["px", "py", "pz"]].to_numpy()
