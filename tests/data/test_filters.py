"""Track selections, the repeated-layer transform and the isotropic normaliser."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tracknet.data.filters import TrackFilter, drop_repeated_layers
from tracknet.data.normalize import Normalizer
from tracknet.data.tracks import TrackSet
from tracknet.errors import ConfigError


def hand_tracks(
    layers_per_track: list[list[tuple[int, int]]], **track_fields: np.ndarray
) -> TrackSet:
    """A TrackSet with the given (volume, layer) sequences; coordinates count hits."""
    lengths = np.array([len(t) for t in layers_per_track])
    n, n_hits = len(lengths), int(lengths.sum())
    flat = np.array([pair for t in layers_per_track for pair in t], dtype=np.int64).reshape(-1, 2)
    values = {
        "particle_id": np.arange(n) + 100,
        "event_id": np.zeros(n),
        "pt": np.ones(n),
        "eta": np.zeros(n),
        "vertex": np.zeros((n, 3)),
        "charge": np.ones(n),
        "backward_steps": np.zeros(n),
    }
    values.update(track_fields)
    return TrackSet(
        offsets=np.concatenate([[0], np.cumsum(lengths)]),
        coords=np.repeat(np.arange(n_hits, dtype=np.float32)[:, None], 3, axis=1),
        hit_id=np.arange(n_hits) + 1,
        volume_id=flat[:, 0],
        layer_id=flat[:, 1],
        module_id=np.ones(n_hits),
        **values,
    )


def _five() -> TrackSet:
    layers = [
        [(8, 2), (8, 4), (8, 6)],
        [(8, 2), (8, 4)],
        [(7, 14), (7, 12), (7, 10), (8, 2)],
        [(8, 4), (8, 6), (8, 8), (13, 2), (13, 4)],
        [(8, 2)],
    ]
    return hand_tracks(
        layers,
        pt=np.array([0.5, 2.0, 1.0, 10.0, 3.0]),
        eta=np.array([0.1, -2.0, -3.5, 1.2, 0.0]),
        vertex=np.array(
            [
                [0.01, 0.0, 5.0],
                [0.0, 0.5, 0.0],
                [3.0, 4.0, 0.0],
                [0.0, 0.0, -100.0],
                [30.0, 0.0, 0.0],
            ]
        ),
        backward_steps=np.array([0, 0, 2, 0, 0]),
    )


@pytest.mark.parametrize(
    ("flt", "kept"),
    [
        (TrackFilter(), [0, 1, 2, 3, 4]),
        (TrackFilter(min_hits=3), [0, 2, 3]),
        (TrackFilter(min_pt=1.0), [1, 2, 3, 4]),
        (TrackFilter(max_abs_eta=2.0), [0, 1, 3, 4]),
        (TrackFilter(first_layers=((8, 2), (7, 14))), [0, 1, 2, 4]),
        (TrackFilter(first_layers=((8, 4),)), [3]),
        (
            TrackFilter(primaries_only=True),
            [0, 1, 3],
        ),  # vr 0.01, 0.5, 0 <= 1 mm; 5 and 30 mm are not
        (TrackFilter(primaries_only=True, max_vertex_r_mm=10.0), [0, 1, 2, 3]),
        (TrackFilter(consistent_only=True), [0, 1, 3, 4]),
        (TrackFilter(min_hits=2, min_pt=1.0, max_abs_eta=2.5, primaries_only=True), [1, 3]),
    ],
)
def test_filter_criteria(flt: TrackFilter, kept: list[int]) -> None:
    tracks = _five()
    np.testing.assert_array_equal(np.flatnonzero(flt.mask(tracks)), kept)
    np.testing.assert_array_equal(flt(tracks).particle_id, tracks.particle_id[kept])


def test_filter_config_roundtrip_and_validation() -> None:
    flt = TrackFilter(min_hits=4, min_pt=0.9, first_layers=[[8, 2], [7, 14]], primaries_only=True)  # type: ignore[arg-type]
    config = flt.config()
    assert config["first_layers"] == [[8, 2], [7, 14]]
    assert TrackFilter.from_config(config) == flt
    for bad in (
        {"min_hits": -1},
        {"min_pt": float("nan")},
        {"max_abs_eta": -1.0},
        {"first_layers": [(8,)]},
    ):
        with pytest.raises(ConfigError):
            TrackFilter(**bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown track filter option"):
        TrackFilter.from_config({"min_hitz": 3})


def test_drop_repeated_layers_keeps_first_hit_per_layer() -> None:
    tracks = hand_tracks([[(8, 2), (8, 2), (8, 4), (8, 2), (13, 2)], [(8, 2), (8, 4), (8, 4)]])
    out = drop_repeated_layers(tracks)
    np.testing.assert_array_equal(out.hit_id, [1, 3, 5, 6, 7])
    np.testing.assert_array_equal(out.lengths, [3, 2])
    consecutive = drop_repeated_layers(tracks, consecutive_only=True)
    np.testing.assert_array_equal(consecutive.hit_id, [1, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(consecutive.lengths, [4, 2])
    # coords and ids travel with the kept hits
    np.testing.assert_array_equal(out.coords[:, 0], out.hit_id - 1)
    assert drop_repeated_layers(TrackSet.empty()).n_tracks == 0


def test_normalizer_is_isotropic_and_invertible() -> None:
    norm = Normalizer(500.0)
    points = np.array([[100.0, -50.0, 1500.0], [0.0, 0.0, 0.0]])
    model = norm.to_model(points)
    np.testing.assert_allclose(model, points / 500.0)
    np.testing.assert_allclose(norm.to_mm(model), points)
    # distances and radii scale by the same factor: a sphere stays a sphere
    d_mm = np.linalg.norm(points[0] - points[1])
    assert np.linalg.norm(model[0] - model[1]) == pytest.approx(norm.radius_to_model(d_mm))
    assert norm.radius_to_mm(norm.radius_to_model(7.0)) == pytest.approx(7.0)
    assert norm.volume_to_mm3(1.0) == pytest.approx(500.0**3)
    tensor = torch.tensor(points, dtype=torch.float32)
    assert torch.allclose(norm.to_mm(norm.to_model(tensor)), tensor)
    assert Normalizer.from_config(norm.config()) == norm
    assert Normalizer().scale_mm == 1000.0
    for bad in (0.0, -1.0, float("inf"), "1000"):
        with pytest.raises(ConfigError):
            Normalizer(bad)  # type: ignore[arg-type]
