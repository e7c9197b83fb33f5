"""Fixtures of the overlay tests: small labelled straw sources written once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracknet.io.straw import write_straw_dataset
from tracknet.simulation.straw import Occupancy, StrawConfig, StrawResponse, iter_straw_batches

#: Source events: mostly one track, sometimes two (which the isolated library must skip).
SOURCE_CONFIG = StrawConfig(occupancy=Occupancy(distribution="uniform", min_tracks=1, max_tracks=2))
#: Background events for semi-synthetic straw overlays: the realistic defaults.
BACKGROUND_CONFIG = StrawConfig()


def _write(config: StrawConfig, directory: Path, n: int, seed: int) -> Path:
    write_straw_dataset(
        iter_straw_batches(config, n, seed, events_per_batch=200),
        directory,
        kind="straw",
        parameters={"config": config.to_dict()},
        seed=seed,
        generator="test",
    )
    return directory


@pytest.fixture(scope="session")
def straw_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(SOURCE_CONFIG, tmp_path_factory.mktemp("straw_source"), 600, seed=21)


@pytest.fixture(scope="session")
def straw_background(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(BACKGROUND_CONFIG, tmp_path_factory.mktemp("straw_background"), 40, seed=22)


@pytest.fixture(scope="session")
def ideal_response() -> StrawResponse:
    return StrawResponse(efficiency=1.0, noise_rate=0.0, crosstalk=0.0)
