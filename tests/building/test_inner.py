"""Inner hits: a track that starts a layer out takes the free hits its helix crosses
further in, and only those that lie on the helix."""

from __future__ import annotations

import numpy as np
import pytest

from tests.building.conftest import barrel_event
from tracknet.building import BuildConfig, build_tracks
from tracknet.building.fit import hit_sigmas
from tracknet.building.geometry import LayerSurfaces, layer_keys
from tracknet.building.inner import attach_inner_hits
from tracknet.data.tracks import event_tracks
from tracknet.events import Event

PIXEL = (7, 8, 9)
DEFAULTS = BuildConfig()


@pytest.fixture(scope="module")
def event() -> Event:
    return barrel_event(7, n_particles=800, seed=12, volumes=PIXEL)


def _truth_tracks(event: Event) -> tuple[np.ndarray, np.ndarray]:
    """``(track_of_hit, innermost)``: every particle of pT >= 0.5 GeV with at least 4 hits
    and one hit on its first layer, as a track (ids from 1); and the row of each track's
    innermost hit."""
    tracks = event_tracks(event)
    row_of = {int(h): i for i, h in enumerate(event.hits["hit_id"].to_numpy())}
    track_of_hit = np.zeros(len(event.hits), dtype=np.int64)
    innermost: list[int] = []
    for t in range(tracks.n_tracks):
        lo, hi = tracks.offsets[t], tracks.offsets[t + 1]
        layers = list(zip(tracks.volume_id[lo:hi], tracks.layer_id[lo:hi], strict=True))
        if tracks.pt[t] < 0.5 or hi - lo < 4 or layers.count(layers[0]) > 1:
            continue
        rows = [row_of[int(h)] for h in tracks.hit_id[lo:hi]]
        track_of_hit[rows] = len(innermost) + 1
        innermost.append(rows[0])
    return track_of_hit, np.array(innermost, dtype=np.int64)


def _attach(
    event: Event,
    track_of_hit: np.ndarray,
    positions: np.ndarray,
    *,
    holes: bool = False,
    outer: bool = False,
) -> np.ndarray:
    hits = event.hits
    volume, layer = hits["volume_id"].to_numpy(), hits["layer_id"].to_numpy()
    return attach_inner_hits(
        positions,
        layer_keys(volume, layer),
        track_of_hit,
        LayerSurfaces.from_hits(positions, volume, layer),
        *hit_sigmas(volume),
        window_mm=DEFAULTS.inner_hit_window_mm,
        max_residual_mm=DEFAULTS.inner_hit_max_residual_mm,
        max_pull_z=DEFAULTS.inner_hit_max_pull_z,
        max_rms_rise_mm=DEFAULTS.attach_max_rms_rise_mm,
        holes=holes,
        outer=outer,
    )


def test_tracks_that_lost_their_first_hit_take_it_back(event: Event) -> None:
    positions = event.hits[["x", "y", "z"]].to_numpy(np.float64)
    full, innermost = _truth_tracks(event)
    assert len(innermost) > 50
    cut = full.copy()
    cut[innermost] = 0
    out = _attach(event, cut, positions)
    back = out[innermost] == full[innermost]
    assert back.mean() > 0.8
    # Hits on tracks stay where they were; a free hit joins only the track it belongs to.
    on = cut > 0
    np.testing.assert_array_equal(out[on], cut[on])
    joined = (cut == 0) & (out > 0)
    assert (out[joined] == full[joined]).mean() > 0.95


def test_a_hit_off_the_helix_does_not_join(event: Event) -> None:
    positions = event.hits[["x", "y", "z"]].to_numpy(np.float64)
    full, innermost = _truth_tracks(event)
    cut = full.copy()
    cut[innermost] = 0
    # Each first hit moved 1 mm along its layer (in azimuth), far beyond the residual cut
    # and well within the search window.
    moved = positions.copy()
    r = np.hypot(moved[innermost, 0], moved[innermost, 1])
    phi = np.arctan2(moved[innermost, 1], moved[innermost, 0]) + 1.0 / r
    moved[innermost, 0], moved[innermost, 1] = r * np.cos(phi), r * np.sin(phi)
    out = _attach(event, cut, moved)
    assert (out[innermost] == full[innermost]).mean() < 0.05


def test_the_builder_attaches_inner_hits_unless_turned_off(event: Event) -> None:
    on = build_tracks(event, "baseline", config=BuildConfig())
    off = build_tracks(event, "baseline", config=BuildConfig(inner_hit_window_mm=None))
    assert on.tracks["n_double_hits"].sum() > off.tracks["n_double_hits"].sum()
    assert (on.submission["track_id"] > 0).sum() > (off.submission["track_id"] > 0).sum()


def _strip_barrel() -> tuple[Event, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A barrel event with strips: the event, its hit positions, layer keys, true tracks
    (:func:`_truth_tracks`) and hit radii."""
    event = barrel_event(8, n_particles=800, seed=12)
    positions = event.hits[["x", "y", "z"]].to_numpy(np.float64)
    key = layer_keys(event.hits["volume_id"].to_numpy(), event.hits["layer_id"].to_numpy())
    full, _ = _truth_tracks(event)
    return event, positions, key, full, np.hypot(positions[:, 0], positions[:, 1])


def test_holes_between_held_layers_are_filled_only_when_asked() -> None:
    """One single-hit layer in the middle of every track removed (barrel with strips):
    with ``holes`` the gaps are filled from the helices of the neighbouring layers;
    without, only the inner search runs, which cannot reach a gap."""
    event, positions, key, full, radius = _strip_barrel()
    removed: list[int] = []
    for track in range(1, full.max() + 1):
        rows = np.flatnonzero(full == track)
        rows = rows[np.argsort(radius[rows])]
        single = [r for r in rows if (key[rows] == key[r]).sum() == 1]
        if len(single) >= 6:
            removed.append(int(single[3]))
    assert len(removed) > 40
    cut = full.copy()
    cut[removed] = 0
    filled = _attach(event, cut, positions, holes=True)
    assert (filled[removed] == full[removed]).mean() > 0.7
    joined = (cut == 0) & (filled > 0)
    assert (filled[joined] == full[joined]).mean() > 0.95
    plain = _attach(event, cut, positions)
    assert (plain[removed] == full[removed]).mean() < 0.05


def test_the_outer_pass_gives_a_track_its_lost_last_hit_only_when_asked() -> None:
    """Each track's outermost hit removed, where no other hit shares its layer (barrel with
    strips): with ``outer`` the helix of the last three layers takes it back."""
    event, positions, key, full, radius = _strip_barrel()
    removed: list[int] = []
    for track in range(1, full.max() + 1):
        rows = np.flatnonzero(full == track)
        last = rows[np.argmax(radius[rows])]
        if len(rows) >= 6 and (key[rows] == key[last]).sum() == 1:
            removed.append(int(last))
    assert len(removed) > 40
    cut = full.copy()
    cut[removed] = 0
    grown = _attach(event, cut, positions, outer=True)
    assert (grown[removed] == full[removed]).mean() > 0.6  # 0.70 on this event
    joined = (cut == 0) & (grown > 0)
    assert (grown[joined] == full[joined]).mean() > 0.95
    plain = _attach(event, cut, positions)
    assert (plain[removed] == full[removed]).mean() < 0.05
