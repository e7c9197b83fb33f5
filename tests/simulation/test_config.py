from __future__ import annotations

from dataclasses import fields

import pytest

from tracknet.errors import ConfigError
from tracknet.simulation import ALL_VOLUMES, CLI_OPTIONS, SimulationConfig


def test_defaults_are_valid() -> None:
    config = SimulationConfig()
    assert config.validate() is config
    assert config.volumes == ALL_VOLUMES


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_particles": -1}, "n_particles"),
        ({"n_particles": 2.5}, "n_particles"),
        ({"field_tesla": 0.0}, "field_tesla"),
        ({"field_tesla": -2.0}, "field_tesla"),
        ({"pt_min_gev": 0.0}, "pt_min_gev"),
        ({"pt_min_gev": 2.0, "pt_max_gev": 1.0}, "pt_max_gev"),
        ({"eta_max": 0.0}, "eta_max"),
        ({"hit_efficiency": 1.5}, "hit_efficiency"),
        ({"hit_efficiency": -0.1}, "hit_efficiency"),
        ({"noise_fraction": 1.0}, "noise_fraction"),
        ({"noise_fraction": -0.01}, "noise_fraction"),
        ({"secondary_fraction": 2.0}, "secondary_fraction"),
        ({"smearing_scale": -1.0}, "smearing_scale"),
        ({"material_scale": -1.0}, "material_scale"),
        ({"interactions_per_x0": -1.0}, "interactions_per_x0"),
        ({"max_turns": 0.0}, "max_turns"),
        ({"max_turns": 1000.0}, "max_turns"),
        ({"particles_per_vertex": 0.5}, "particles_per_vertex"),
        ({"vertex_sigma_z_mm": -1.0}, "vertex_sigma_z_mm"),
        ({"volumes": (8, 10)}, "unknown TrackML volume"),
        ({"volumes": ()}, "at least one"),
        ({"volumes": (8, 8)}, "duplicates"),
        ({"field_tesla": float("nan")}, "finite"),
        ({"noise_fraction": "0.1"}, "number"),
    ],
)
def test_bad_values_raise_one_line_config_error(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        SimulationConfig(**changes).validate()  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_volumes_accept_any_iterable_and_are_sorted() -> None:
    assert SimulationConfig(volumes=[17, 8, 13]).volumes == (8, 13, 17)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        SimulationConfig(volumes=["pixel"])  # type: ignore[list-item]


def test_every_field_has_a_cli_option_and_plain_dict() -> None:
    names = [f.name for f in fields(SimulationConfig)]
    assert sorted(CLI_OPTIONS) == sorted(names)
    assert all(option.startswith("--") for option in CLI_OPTIONS.values())
    as_dict = SimulationConfig().to_dict()
    assert list(as_dict) == names
    assert as_dict["volumes"] == list(ALL_VOLUMES)
