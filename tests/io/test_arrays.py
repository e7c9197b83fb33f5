"""Damaged ``.npz`` files (density maps, module maps) are one DataError line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tracknet.errors import DataError
from tracknet.io.arrays import read_npz
from tracknet.model.density import DensityMap


def _damaged(good: bytes, rng: np.random.Generator) -> bytes:
    damaged = bytearray(good)
    for at in rng.integers(0, len(damaged), size=int(rng.integers(1, 30))):
        damaged[int(at)] = int(rng.integers(0, 256))
    return bytes(damaged)


def test_damaged_density_maps_are_one_data_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    good_path = DensityMap.from_points([rng.uniform(-500, 500, (2000, 3))], 50.0).save(
        tmp_path / "good.npz"
    )
    good = good_path.read_bytes()
    path = tmp_path / "damaged.npz"
    for i in range(150):  # a bad CRC or zlib stream ended in BadZipFile or zlib.error
        path.write_bytes(_damaged(good, rng) if i % 2 else rng.bytes(int(rng.integers(0, 2000))))
        try:
            DensityMap.load(path)
        except DataError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)


def test_read_npz_names_the_file_and_refuses_pickles(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="module map not found"):
        read_npz(tmp_path / "none.npz", "module map")
    pickled = tmp_path / "objects.npz"
    np.savez(pickled, value=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match=r"objects\.npz: cannot read density map"):
        read_npz(pickled, "density map")
