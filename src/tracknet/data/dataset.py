"""Plain-PyTorch data pipeline: a map-style track dataset, a length-grouping sampler, padding.

Design (why map-style): the sampler runs in the main process and hands each *batch of
track indices* to exactly one DataLoader worker, so every track is produced exactly once
per epoch for any ``num_workers``, with no per-worker sharding logic to get wrong. The
dataset turns a whole index array into a padded :class:`TrackBatch` at once (index
arithmetic on the flat arrays, no Python loop over tracks or hits), so the DataLoader is
used with ``batch_size=None`` and :class:`LengthGroupedBatchSampler` as its ``sampler``
(:func:`make_dataloader` wires this up).

Distributed training: the sampler shards by rank itself (``rank``/``world_size``, taken
from ``torch.distributed`` when it is initialised). Tracks of one shuffled permutation,
shared by all ranks through the seed, are dealt out round-robin, so ranks get disjoint
sets covering every track once: *no padding duplicates*. Every rank makes the same
number of batches (batch sizes may then differ by one track) so that collective
operations stay in step; only when there are fewer tracks than ``world_size`` times the
batch count can some rank have fewer batches. With Lightning, turn its automatic
``DistributedSampler`` off (``use_distributed_sampler=False``) and keep this one.

Batches group tracks of similar length (sorted within buckets of ``bucket_batches``
batches of a random permutation), which keeps padding and wasted GRU steps small.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..errors import ConfigError
from .normalize import Normalizer
from .tracks import TrackSet

__all__ = [
    "LengthGroupedBatchSampler",
    "TrackBatch",
    "TrackDataset",
    "distributed_rank",
    "make_dataloader",
    "pad_tracks",
]


class TrackBatch(NamedTuple):
    """A padded batch of ``B`` tracks of at most ``T`` hits, in the model frame.

    * ``inputs`` ``(B, T, D)`` float32: hit ``t`` of each track (zeros past its end);
    * ``targets_t1`` ``(B, T, D)``: hit ``t + 1`` (the next hit);
    * ``targets_t2`` ``(B, T, D)``: hit ``t + 2`` (the hit after next);
    * ``mask_t1`` ``(B, T)`` bool: hit ``t + 1`` exists (false at a track's last hit);
    * ``mask_t2`` ``(B, T)`` bool: hit ``t + 2`` exists (false at its last two hits);
    * ``lengths`` ``(B,)`` int64: hits per track;
    * ``track_index`` ``(B,)`` int64: the tracks' indices in the dataset's TrackSet.
    """

    inputs: torch.Tensor
    targets_t1: torch.Tensor
    targets_t2: torch.Tensor
    mask_t1: torch.Tensor
    mask_t2: torch.Tensor
    lengths: torch.Tensor
    track_index: torch.Tensor

    def to(self, device: torch.device | str, non_blocking: bool = False) -> TrackBatch:
        return TrackBatch(*(t.to(device, non_blocking=non_blocking) for t in self))


def pad_tracks(coords: np.ndarray, offsets: np.ndarray, index: np.ndarray) -> TrackBatch:
    """Pad the tracks ``index`` of flat ``coords`` ``(N, D)`` / ``offsets`` into a
    :class:`TrackBatch`.

    Vectorised: one boolean ``(B, T + 2)`` validity grid selects the source rows, and the
    t1/t2 targets are the same padded array shifted by one and two steps.
    """
    index = np.asarray(index, dtype=np.int64).ravel()
    starts = offsets[index]
    lengths = offsets[index + 1] - starts
    n_dims = coords.shape[1]
    t_max = int(lengths.max()) if len(lengths) else 0
    steps = np.arange(t_max + 2, dtype=np.int64)
    valid = steps[None, :] < lengths[:, None]
    padded = np.zeros((len(index), t_max + 2, n_dims), dtype=np.float32)
    padded[valid] = coords[(starts[:, None] + steps[None, :])[valid]]
    return TrackBatch(
        inputs=torch.from_numpy(np.ascontiguousarray(padded[:, :t_max])),
        targets_t1=torch.from_numpy(np.ascontiguousarray(padded[:, 1 : t_max + 1])),
        targets_t2=torch.from_numpy(np.ascontiguousarray(padded[:, 2 : t_max + 2])),
        mask_t1=torch.from_numpy(np.ascontiguousarray(valid[:, 1 : t_max + 1])),
        mask_t2=torch.from_numpy(np.ascontiguousarray(valid[:, 2 : t_max + 2])),
        lengths=torch.from_numpy(lengths.astype(np.int64)),
        track_index=torch.from_numpy(index.copy()),
    )


class TrackDataset(Dataset[TrackBatch]):
    """Map-style dataset over a :class:`TrackSet`, in the model frame.

    ``dataset[i]`` is a :class:`TrackBatch` of the one track ``i``; ``dataset[indices]``
    (a sequence or 1-d array of ints, as yielded by :class:`LengthGroupedBatchSampler`)
    is the padded batch of those tracks. ``dims`` picks the coordinates the model sees:
    ``(0, 1, 2)`` for x, y, z; ``(0, 1)`` for a straw event (input_dim 2). Coordinates are
    converted once, at construction, with ``normalizer`` (default 1000 mm -> 1).

    :meth:`from_model_arrays` wraps flat arrays already in the model frame (e.g. the
    memory-mapped ``coords`` of :func:`tracknet.data.cache.open_split`) without copying
    them; only the rows of each batch are read.
    """

    def __init__(
        self,
        tracks: TrackSet,
        normalizer: Normalizer | None = None,
        dims: Sequence[int] = (0, 1, 2),
    ) -> None:
        dims = tuple(int(d) for d in dims)
        if not dims or any(d not in (0, 1, 2) for d in dims) or len(set(dims)) != len(dims):
            raise ConfigError(
                f"dataset dims must be distinct coordinate indices among 0, 1, 2, got {dims}"
            )
        self.tracks: TrackSet | None = tracks
        self.normalizer = normalizer if normalizer is not None else Normalizer()
        self.dims = dims
        self.coords = np.ascontiguousarray(
            self.normalizer.to_model(tracks.coords[:, list(dims)]), dtype=np.float32
        )
        self.offsets = tracks.offsets
        self.lengths = tracks.lengths

    @classmethod
    def from_model_arrays(
        cls,
        coords: np.ndarray,
        offsets: np.ndarray,
        normalizer: Normalizer | None = None,
        dims: Sequence[int] = (0, 1, 2),
    ) -> TrackDataset:
        """A dataset over ``coords`` ``(n_hits, len(dims))`` float32, already in the model frame.

        ``coords`` is used as given (a ``np.memmap`` stays one); ``normalizer`` and ``dims``
        only record what the columns are.
        """
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        dims = tuple(int(d) for d in dims)
        if coords.ndim != 2 or coords.shape[1] != len(dims):
            raise ConfigError(
                f"coords of shape {tuple(coords.shape)} do not hold "
                f"the {len(dims)} coordinates {dims}"
            )
        if (
            offsets.ndim != 1
            or len(offsets) < 1
            or offsets[0] != 0
            or int(offsets[-1]) != len(coords)
        ):
            raise ConfigError("offsets must start at 0 and end at the number of coordinate rows")
        dataset = cls.__new__(cls)
        dataset.tracks = None
        dataset.normalizer = normalizer if normalizer is not None else Normalizer()
        dataset.dims = dims
        dataset.coords = coords
        dataset.offsets = offsets
        dataset.lengths = np.diff(offsets)
        return dataset

    @property
    def input_dim(self) -> int:
        return len(self.dims)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: Any) -> TrackBatch:
        if isinstance(index, torch.Tensor):
            index = index.numpy()
        idx = np.atleast_1d(np.asarray(index))
        if idx.dtype.kind not in "iu" or idx.ndim != 1:
            raise IndexError(f"tracks are indexed by an int or a 1-d integer array, got {index!r}")
        n = len(self)
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"track index out of range for {n} tracks")
        return pad_tracks(self.coords, self.offsets, idx)


def distributed_rank() -> tuple[int, int]:
    """``(rank, world_size)`` of ``torch.distributed`` when initialised, else ``(0, 1)``."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class LengthGroupedBatchSampler(Sampler[np.ndarray]):
    """Yields int64 arrays of track indices: this rank's batches of one epoch.

    Per epoch (``set_epoch``), a permutation seeded by ``(seed, epoch)`` (identical on all
    ranks) is dealt round-robin to the ranks; each rank sorts its share by length within
    buckets of ``batch_size * bucket_batches`` tracks, cuts it into ``len(self)``
    contiguous batches of at most ``batch_size`` tracks and, if ``shuffle``, shuffles the
    batch order. Every track appears in exactly one batch of exactly one rank.
    Without ``shuffle`` the permutation is the identity (tracks still length-grouped).
    """

    def __init__(
        self,
        lengths: np.ndarray | Sequence[int],
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        bucket_batches: int = 64,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        if int(bucket_batches) < 1:
            raise ConfigError(f"bucket_batches must be a positive integer, got {bucket_batches!r}")
        default_rank, default_world = distributed_rank()
        self.rank = default_rank if rank is None else int(rank)
        self.world_size = default_world if world_size is None else int(world_size)
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ConfigError(f"rank {self.rank} is not within world_size {self.world_size}")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.bucket_batches = int(bucket_batches)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose permutation the next iteration uses."""
        self.epoch = int(epoch)

    def _counts(self) -> tuple[int, int]:
        n = len(self.lengths)
        mine = max(0, -(-(n - self.rank) // self.world_size))  # len(range(rank, n, world))
        largest = -(-n // self.world_size)
        n_batches = -(-largest // self.batch_size)
        return mine, min(n_batches, mine)

    def __len__(self) -> int:
        return self._counts()[1]

    def __iter__(self) -> Iterator[np.ndarray]:
        n = len(self.lengths)
        rng = np.random.default_rng([self.seed, self.epoch])
        perm = rng.permutation(n) if self.shuffle else np.arange(n, dtype=np.int64)
        mine = perm[self.rank :: self.world_size]
        _, n_batches = self._counts()
        if n_batches == 0:
            return iter(())
        bucket = np.arange(len(mine)) // (self.batch_size * self.bucket_batches)
        mine = mine[np.lexsort((self.lengths[mine], bucket))]
        batches = np.array_split(mine, n_batches)
        order = rng.permutation(n_batches) if self.shuffle else range(n_batches)
        return (batches[i] for i in order)


def _identity(batch: TrackBatch) -> TrackBatch:
    return batch


def make_dataloader(
    dataset: TrackDataset,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    num_workers: int = 0,
    bucket_batches: int = 64,
    rank: int | None = None,
    world_size: int | None = None,
    pin_memory: bool = False,
    persistent_workers: bool = False,
) -> DataLoader[TrackBatch]:
    """A DataLoader that yields padded :class:`TrackBatch` es, each track once per epoch.

    Call ``loader.sampler.set_epoch(epoch)`` before each epoch for a new shuffle.
    """
    sampler = LengthGroupedBatchSampler(
        dataset.lengths,
        batch_size,
        shuffle=shuffle,
        seed=seed,
        bucket_batches=bucket_batches,
        rank=rank,
        world_size=world_size,
    )
    return DataLoader(
        dataset,
        batch_size=None,
        sampler=sampler,
        num_workers=num_workers,
        # torch types collate_fn for batched loading; with batch_size=None it gets one sample.
        collate_fn=_identity,  # type: ignore[arg-type]
        pin_memory=pin_memory,
        persistent_workers=persistent_workers and num_workers > 0,
    )
