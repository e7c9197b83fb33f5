"""The shared settings schema: types, bounds, nesting, unknown keys, JSON files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tracknet.errors import ConfigError
from tracknet.schema import Settings, setting


@dataclass(frozen=True)
class Stage(Settings):
    label = "stage"
    n_hits: int = setting(3, low=2)
    min_pt_gev: float = setting(0.5, low=0.0, open_low=True)


@dataclass(frozen=True)
class Demo(Settings):
    label = "demo"
    width: int = setting(8, low=1, high=64)
    scale: float | None = setting(None, low=0.0, open_low=True)
    mode: str = setting("fast", choices=("fast", "exact"))
    flag: bool = True
    stages: tuple[Stage, ...] = (Stage(), Stage(n_hits=4))
    workers: int = setting(1, check=lambda v: None if v == -1 or v > 0 else "must be > 0 or -1")

    def validate(self) -> None:
        if self.width < len(self.stages):
            raise self.fail("width", "must hold every stage", self.width)


def test_defaults_round_trip_through_a_dict() -> None:
    demo = Demo()
    assert Demo.from_dict(demo.to_dict()) == demo
    assert demo.to_dict()["stages"] == [
        {"n_hits": 3, "min_pt_gev": 0.5},
        {"n_hits": 4, "min_pt_gev": 0.5},
    ]


def test_nested_settings_come_from_lists_of_dicts() -> None:
    demo = Demo.from_dict({"stages": [{"n_hits": 5}]})
    assert demo.stages == (Stage(n_hits=5),)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"width": 0}, "demo width must be >= 1, got 0"),
        ({"width": 65}, "demo width must be <= 64, got 65"),
        ({"width": 2.5}, "demo width must be an integer, got 2.5"),
        ({"width": True}, "demo width must be an integer, got True"),
        ({"scale": 0}, "demo scale must be > 0.0, got 0"),
        ({"scale": float("nan")}, "demo scale must be a finite number, got nan"),
        ({"mode": "slow"}, "demo mode must be one of ['fast', 'exact'], got 'slow'"),
        ({"flag": "yes"}, "demo flag must be true or false, got 'yes'"),
        ({"stages": "abc"}, "demo stages must be a list, got 'abc'"),
        ({"stages": [{"n_hits": 1}]}, "stage n_hits must be >= 2, got 1"),
        ({"stages": [{"bogus": 1}]}, "unknown stage option(s) ['bogus']"),
        ({"workers": 0}, "demo workers must be > 0 or -1, got 0"),
        ({"width": 1}, "demo width must hold every stage, got 1"),
        ({"widht": 3}, "unknown demo option(s) ['widht']; known: "),
    ],
)
def test_bad_values_give_one_line_naming_the_setting(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Demo.from_dict(overrides)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_optional_fields_take_none_and_required_ones_do_not() -> None:
    assert Demo.from_dict({"scale": None}).scale is None
    with pytest.raises(ConfigError, match="demo width must be set"):
        Demo.from_dict({"width": None})


def test_json_files_name_themselves_in_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"width": 16}))
    assert Demo.from_json(good).width == 16
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"width": -1}))
    with pytest.raises(ConfigError, match=r"bad\.json: demo width must be >= 1"):
        Demo.from_json(bad)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ConfigError, match=r"broken\.json: not valid JSON"):
        Demo.from_json(broken)
    listed = tmp_path / "list.json"
    listed.write_text("[1]")
    with pytest.raises(ConfigError, match="must be a JSON object"):
        Demo.from_json(listed)
    with pytest.raises(ConfigError, match="cannot read"):
        Demo.from_json(tmp_path / "missing.json")


@dataclass(frozen=True)
class Caps(Settings):
    label = "caps"
    caps: tuple[float, ...] = setting((1.0, float("inf")), allow_inf=True)
    limit: float = 2.0


def test_infinity_only_where_a_field_allows_it() -> None:
    assert Caps().caps[-1] == float("inf")
    with pytest.raises(ConfigError, match="caps limit must be a finite number"):
        Caps.from_dict({"limit": float("inf")})
    with pytest.raises(ConfigError, match="caps caps must be a finite number, got nan"):
        Caps.from_dict({"caps": [float("nan")]})


def test_numpy_scalars_are_accepted_as_plain_values() -> None:
    demo = Demo.from_dict(
        {"width": np.int64(16), "scale": np.float32(0.5), "flag": np.bool_(False)}
    )
    assert (demo.width, demo.scale, demo.flag) == (16, 0.5, False)
    assert type(demo.width) is int and type(demo.scale) is float and type(demo.flag) is bool
    assert Demo.from_dict({"scale": 2}).to_dict()["scale"] == 2  # a plain int stays as given
    assert Caps.from_dict({"caps": np.array([1.0, np.inf])}).caps == (1.0, float("inf"))
    with pytest.raises(ConfigError, match="demo width must be an integer, got"):
        Demo.from_dict({"width": np.float64(2.0)})
    with pytest.raises(ConfigError, match="demo width must be an integer, got"):
        Demo.from_dict({"width": np.bool_(True)})
