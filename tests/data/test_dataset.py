"""Padding, masks, and exactly-once epochs across workers and ranks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.data.test_filters import hand_tracks
from tracknet.data.dataset import (
    LengthGroupedBatchSampler,
    TrackDataset,
    make_dataloader,
    pad_tracks,
)
from tracknet.data.normalize import Normalizer
from tracknet.errors import ConfigError


def _tracks(n: int = 203, seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 15, size=n)
    return hand_tracks([[(8, 2 * k) for k in range(length)] for length in lengths])


def test_pad_tracks_targets_and_masks() -> None:
    coords = np.arange(30, dtype=np.float32).reshape(10, 3)  # hit h has coords 3h, 3h+1, 3h+2
    offsets = np.array([0, 4, 5, 10])  # lengths 4, 1, 5
    batch = pad_tracks(coords, offsets, np.array([0, 1, 2]))
    assert batch.inputs.shape == (3, 5, 3) and batch.inputs.dtype == torch.float32
    np.testing.assert_array_equal(batch.lengths, [4, 1, 5])
    np.testing.assert_array_equal(
        batch.mask_t1,
        [[1, 1, 1, 0, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 0]],
    )
    np.testing.assert_array_equal(
        batch.mask_t2,
        [[1, 1, 0, 0, 0], [0, 0, 0, 0, 0], [1, 1, 1, 0, 0]],
    )
    # inputs are the hits, t1 the next hit, t2 the one after, zeros past the end
    np.testing.assert_array_equal(batch.inputs[0, :4, 0], [0, 3, 6, 9])
    np.testing.assert_array_equal(batch.targets_t1[0, :3, 0], [3, 6, 9])
    np.testing.assert_array_equal(batch.targets_t2[0, :2, 0], [6, 9])
    np.testing.assert_array_equal(batch.inputs[2, :, 0], [15, 18, 21, 24, 27])
    np.testing.assert_array_equal(batch.targets_t2[2, :3, 0], [21, 24, 27])
    assert float(batch.inputs[1, 1:].abs().sum()) == 0.0
    assert float(batch.targets_t1[~batch.mask_t1].abs().sum()) == 0.0
    np.testing.assert_array_equal(batch.track_index, [0, 1, 2])


def test_dataset_scales_coordinates_and_picks_dims() -> None:
    tracks = _tracks(5)
    ds = TrackDataset(tracks, Normalizer(100.0))
    one = ds[2]
    np.testing.assert_allclose(
        one.inputs[0, : tracks.lengths[2]].numpy(), tracks.track_coords(2) / 100.0
    )
    flat = TrackDataset(tracks, dims=(0, 1))
    assert flat.input_dim == 2 and flat[[0, 1]].inputs.shape[-1] == 2
    with pytest.raises(ConfigError):
        TrackDataset(tracks, dims=(0, 3))
    with pytest.raises(IndexError):
        ds[[0, 99]]


def _epoch_indices(loader) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.concatenate([b.track_index.numpy() for b in loader])


@pytest.mark.parametrize("num_workers", [0, 2])
def test_every_track_exactly_once_per_epoch(num_workers: int) -> None:
    tracks = _tracks()
    loader = make_dataloader(TrackDataset(tracks), batch_size=16, num_workers=num_workers, seed=3)
    seen = []
    for epoch in range(2):
        loader.sampler.set_epoch(epoch)
        got = _epoch_indices(loader)
        assert len(got) == tracks.n_tracks
        np.testing.assert_array_equal(np.sort(got), np.arange(tracks.n_tracks))
        seen.append(got)
    assert not np.array_equal(seen[0], seen[1])  # a new shuffle per epoch


def test_two_ranks_split_tracks_without_duplicates() -> None:
    tracks = _tracks(203)
    per_rank = []
    counts = []
    for rank in range(2):
        sampler = LengthGroupedBatchSampler(tracks.lengths, 16, seed=7, rank=rank, world_size=2)
        sampler.set_epoch(4)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        assert max(len(b) for b in batches) <= 16
        counts.append(len(batches))
        per_rank.append(np.concatenate(batches))
    assert counts[0] == counts[1]  # ranks stay in step
    assert len(np.intersect1d(per_rank[0], per_rank[1])) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate(per_rank)), np.arange(203))
    # and through a DataLoader with workers, for one rank
    loader = make_dataloader(TrackDataset(tracks), 16, seed=7, rank=1, world_size=2, num_workers=2)
    loader.sampler.set_epoch(4)
    np.testing.assert_array_equal(np.sort(_epoch_indices(loader)), np.sort(per_rank[1]))


def test_sampler_groups_similar_lengths_and_is_deterministic() -> None:
    tracks = _tracks(2000)
    sampler = LengthGroupedBatchSampler(tracks.lengths, 50, seed=1, bucket_batches=40)
    batches = list(sampler)
    spread = np.array([np.ptp(tracks.lengths[b]) for b in batches])
    assert np.median(spread) <= 1
    again = list(LengthGroupedBatchSampler(tracks.lengths, 50, seed=1, bucket_batches=40))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))
    ordered = list(LengthGroupedBatchSampler(tracks.lengths, 50, shuffle=False))
    np.testing.assert_array_equal(np.sort(np.concatenate(ordered)), np.arange(2000))


def test_sampler_validates_arguments() -> None:
    with pytest.raises(ConfigError):
        LengthGroupedBatchSampler([3, 4], 0)
    with pytest.raises(ConfigError):
        LengthGroupedBatchSampler([3, 4], 2, rank=2, world_size=2)
    assert list(LengthGroupedBatchSampler([], 4)) == []
