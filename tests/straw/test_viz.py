"""The straw event display writes PNG files atomically."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_small_event
from tracknet.errors import DataError
from tracknet.simulation.straw import (
    StrawConfig,
    StrawGeometry,
    StrawResponse,
    simulate_straw_batch,
)
from tracknet.viz.straw import render_event_png, render_geometry_png

PNG = b"\x89PNG\r\n\x1a\n"


def test_geometry_and_event_png(tmp_path: Path) -> None:
    geometry = StrawGeometry(n_modules=3)
    render_geometry_png(geometry, tmp_path / "geometry.png", dpi=40)
    assert (tmp_path / "geometry.png").read_bytes().startswith(PNG)
    event = simulate_straw_batch(
        StrawConfig(geometry=geometry, response=StrawResponse(crosstalk=0.3, noise_rate=0.02)),
        1,
        seed=2,
    ).event(0)
    render_event_png(event, geometry, tmp_path / "event.png", dpi=40)
    assert (tmp_path / "event.png").read_bytes().startswith(PNG)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["event.png", "geometry.png"]


def test_not_a_straw_event(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a straw event"):
        render_event_png(make_small_event(), StrawGeometry(), tmp_path / "x.png")
    assert not list(tmp_path.iterdir())
