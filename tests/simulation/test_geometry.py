from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest

from tests.conftest import shared_path
from tracknet.errors import ConfigError
from tracknet.simulation.geometry import ALL_VOLUMES, load_geometry, read_layer_tables

N_LAYERS = {7: 7, 8: 4, 9: 7, 12: 6, 13: 4, 14: 6, 16: 6, 17: 2, 18: 6}


def test_embedded_tables_are_small_and_complete() -> None:
    for name in ("trackml_layers.csv", "trackml_rings.csv", "trackml_distributions.json"):
        size = len(resources.files("tracknet").joinpath("data_files", name).read_bytes())
        assert size < 100_000, name
    layers, _ = read_layer_tables()
    assert layers.groupby("volume_id").size().to_dict() == N_LAYERS
    assert (layers["layer_id"] % 2 == 0).all()
    assert set(layers.loc[layers["kind"] == "barrel", "volume_id"]) == {8, 13, 17}
    assert int(layers["n_modules"].sum()) == 18_728


def test_modules_are_numbered_one_to_n_per_layer() -> None:
    geometry = load_geometry()
    mods = geometry.modules
    frame = pd.DataFrame({"v": mods.volume_id, "l": mods.layer_id, "m": mods.module_id})
    for (_, _), group in frame.groupby(["v", "l"]):
        assert np.array_equal(group["m"].to_numpy(), np.arange(1, len(group) + 1))
    # module index = offset of its layer + module_id - 1
    expected = geometry.module_offset[mods.layer_index] + mods.module_id - 1
    assert np.array_equal(expected, np.arange(len(mods)))


def test_barrel_numbering_runs_in_phi_then_z() -> None:
    geometry = load_geometry((8,))
    mods = geometry.modules
    first = mods.layer_index == 0  # volume 8 layer 2: 16 staves x 14 rings
    centre = mods.centre[first]
    phi = np.arctan2(centre[:, 1], centre[:, 0])
    assert np.all(np.diff(phi[:16]) > 0)
    assert np.allclose(centre[:16, 2], -455.0)
    assert np.allclose(centre[16:32, 2], -385.0)


def test_modules_lie_inside_their_layer_envelope() -> None:
    geometry = load_geometry()
    layers = geometry.layers
    mods = geometry.modules
    r = np.hypot(mods.centre[:, 0], mods.centre[:, 1])
    z = mods.centre[:, 2]
    lay = mods.layer_index
    assert np.all(r >= layers["r_min"].to_numpy()[lay] - 1e-6)
    assert np.all(r <= layers["r_max"].to_numpy()[lay] + 1e-6)
    assert np.all(z >= layers["z_min"].to_numpy()[lay] - 1e-6)
    assert np.all(z <= layers["z_max"].to_numpy()[lay] + 1e-6)


def test_volume_selection() -> None:
    geometry = load_geometry((8, 13, 17))
    assert geometry.volumes == (8, 13, 17)
    assert len(geometry.plane_z) == 0
    assert len(geometry.cylinder_r) == 10
    with pytest.raises(ConfigError, match="unknown TrackML volume"):
        load_geometry((8, 99))
    assert load_geometry() is load_geometry(ALL_VOLUMES)


def test_cached_geometry_is_read_only() -> None:
    geometry = load_geometry()
    with pytest.raises(ValueError):
        geometry.modules.centre[0, 0] = 1.0


@pytest.mark.shared_data
def test_rebuilt_modules_match_real_detectors_csv() -> None:
    from tracknet.simulation.make_geometry_table import check_reconstruction, derive_layer_tables

    detectors = pd.read_csv(shared_path("geometry", "detectors.csv"))
    layers, rings = derive_layer_tables(detectors)
    deviations = check_reconstruction(detectors, layers, rings)
    assert deviations["centre_mm"] < 0.01
    assert deviations["axis"] < 1e-4
    embedded_layers, embedded_rings = read_layer_tables()
    pd.testing.assert_frame_equal(layers.reset_index(drop=True), embedded_layers, check_dtype=False)
    assert embedded_rings["module_ids"].tolist() == rings["module_ids"].tolist()
