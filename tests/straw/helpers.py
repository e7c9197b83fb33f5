"""Helpers of the straw and overlay tests: an independent trajectory model and a CLI runner."""

from __future__ import annotations

import math

import numpy as np
import typer
from typer.testing import CliRunner, Result

from tracknet.errors import TrackNetError

C = 0.299792458e-3  # GeV / (T mm)


def circle_dca(
    vx: np.ndarray,
    vy: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    q: np.ndarray,
    field: float,
    sx: np.ndarray,
    sy: np.ndarray,
) -> np.ndarray:
    """Distance from (sx, sy) to the full circle (or line) of a track, the textbook way:
    centre = vertex + R * (unit normal towards the turn), distance = | |S - centre| - R |."""
    p = np.hypot(px, py)
    ux, uy = px / p, py / p
    if field == 0:
        return np.abs((sx - vx) * uy - (sy - vy) * ux)
    radius = p / (abs(field) * C)
    # A positive charge in B > 0 (out of the plane) turns clockwise: centre on the right.
    turn = -np.sign(q * field)
    cx = vx - turn * radius * uy
    cy = vy + turn * radius * ux
    return np.abs(np.hypot(sx - cx, sy - cy) - radius)


def make_app(**commands: object) -> typer.Typer:
    """A typer app with the given commands (names with '_' become '-' and 'simulate X')."""
    app = typer.Typer(pretty_exceptions_enable=False)
    simulate = typer.Typer()
    app.add_typer(simulate, name="simulate")
    for name, function in commands.items():
        if name.startswith("simulate_"):
            simulate.command(name[len("simulate_") :])(function)
        else:
            app.command(name.replace("_", "-"))(function)
    return app


def run(app: typer.Typer, *args: str) -> tuple[int, str]:
    """Run like ``tracknet.cli.main``: a TrackNetError becomes ``error: <message>``, exit 2."""
    result: Result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        if isinstance(result.exception, TrackNetError):
            return 2, f"error: {result.exception}"
        raise result.exception
    return result.exit_code, result.output


def assert_one_line_error(outcome: tuple[int, str], *fragments: str) -> None:
    code, text = outcome
    assert code == 2, text
    assert text.startswith("error: ") and "\n" not in text.strip(), text
    for fragment in fragments:
        assert fragment in text, (fragment, text)


def sqrt_tolerance(expected: float, sigmas: float = 5.0) -> float:
    return sigmas * math.sqrt(max(expected, 1.0))
