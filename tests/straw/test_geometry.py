"""The straw geometry: the g-2 numbers, staggering, ids, and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from tracknet.errors import ConfigError
from tracknet.simulation.straw.geometry import G2_GEOMETRY, StrawGeometry


def test_default_geometry_is_the_g2_station() -> None:
    g = G2_GEOMETRY
    assert (g.n_modules, g.layers_per_module, g.straws_per_layer) == (8, 4, 32)
    assert g.n_straws == 1024 and g.n_layers == 32
    assert g.straw_radius_mm == 2.5 and 5.5 < g.pitch_mm < 6.5
    assert g.layer_views == ("U", "U", "V", "V")
    assert list(g.layer_stereo_deg()) == [7.5, 7.5, -7.5, -7.5]
    # Module spacing about 13 cm, layers of a module within a few cm.
    assert np.allclose(np.diff(g.layer_x[:: g.layers_per_module]), 130.0)
    # Straws of a layer one pitch apart; the second layer of a view pair staggered by half.
    layer0 = g.straw_y[:32]
    layer1 = g.straw_y[32:64]
    assert np.allclose(np.diff(layer0), g.pitch_mm)
    assert np.allclose(layer1 - layer0, 0.5 * g.pitch_mm)
    # No two straws overlap anywhere.
    d = np.hypot(g.straw_x[:, None] - g.straw_x[None, :], g.straw_y[:, None] - g.straw_y[None, :])
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 2 * g.straw_radius_mm - 1e-9


def test_ids_round_trip() -> None:
    g = StrawGeometry(n_modules=3, straws_per_layer=10)
    ids = np.arange(g.n_straws)
    module, layer, straw = g.decompose(ids)
    assert np.array_equal(g.straw_id(module, layer, straw), ids)
    assert module.max() == 2 and layer.max() == 3 and straw.max() == 9
    assert g.straw_x.shape == g.straw_y.shape == (g.n_straws,)


def test_dict_round_trip() -> None:
    g = StrawGeometry(n_modules=5, pitch_mm=6.5)
    assert StrawGeometry.from_dict(g.to_dict()) == g


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"pitch_mm": 4.0}, "overlap"),
        ({"layer_x_mm": (0.0, 3.0, 16.0, 21.25)}, "layers 0 and 1 overlap"),
        ({"layer_x_mm": (0.0, 5.25, 16.0)}, "needs 4 values"),
        ({"layer_views": ("U", "X", "V", "V")}, "'U' or 'V'"),
        ({"module_spacing_mm": 20.0}, "modules overlap"),
        ({"n_modules": 0}, "n_modules"),
        ({"straw_radius_mm": float("nan")}, "straw_radius_mm"),
    ],
)
def test_bad_geometry_is_one_line(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        StrawGeometry(**kwargs)
    assert fragment in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="unknown"):
        StrawGeometry.from_dict({"radius": 3})
