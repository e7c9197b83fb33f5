"""The on-disk track caches: keyed by the data files and settings, streamed, reproducible splits."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import tracknet.data.cache as cache
from tracknet.data import TrackDataset, TrackFilter, event_tracks, make_dataloader
from tracknet.data.cache import (
    PrepSettings,
    build_dataset,
    dataset_key,
    open_split,
    prepare_events,
    prepared_event_path,
    split_events,
)
from tracknet.data.normalize import Normalizer
from tracknet.errors import ConfigError, DataError
from tracknet.io.trackml import list_events, parse_event_id, read_event
from tracknet.parallel import Workers


def test_prepared_events_are_parsed_once_and_rekeyed_when_a_file_changes(
    barrel_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = tmp_path / "events"
    shutil.copytree(barrel_dir, events)
    prefixes = list_events(events)
    settings = PrepSettings(repeated_layer_keep="lowest_hit_id")
    first = prepare_events(tmp_path / "c", prefixes, settings)
    assert [p.is_file() for p in first] == [True] * len(prefixes)
    # The cached tracks are those of the event, prepared with the settings.
    expected = settings.apply(event_tracks(read_event(prefixes[0])))
    from tracknet.data import TrackSet

    got = TrackSet.load(first[0])
    np.testing.assert_array_equal(got.hit_id, expected.hit_id)
    np.testing.assert_array_equal(got.offsets, expected.offsets)

    # A second preparation parses no CSV at all.
    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("CSV parsed again")

    monkeypatch.setattr(cache, "read_event", no_parsing)
    assert prepare_events(tmp_path / "c", prefixes, settings) == first
    # Other settings or a touched file give another entry (and would parse again).
    assert prepared_event_path(tmp_path / "c", prefixes[0], PrepSettings()) != first[0]
    hits = prefixes[1].with_name(prefixes[1].name + "-hits.csv")
    stat = hits.stat()
    os.utime(hits, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert prepared_event_path(tmp_path / "c", prefixes[1], settings) != first[1]
    with pytest.raises(AssertionError, match="CSV parsed again"):
        prepare_events(tmp_path / "c", prefixes, settings)


def test_split_by_event_is_reproducible_and_complete() -> None:
    ids = [7, 3, 11, 5, 9, 1, 2, 8, 4, 6]
    train, val = split_events(ids, 0.2, 1, seed=3)
    assert split_events(list(reversed(ids)), 0.2, 1, seed=3) == (train, val)
    assert sorted(train + val) == sorted(ids) and len(val) == 2 and not set(train) & set(val)
    assert split_events(ids, 0.2, 1, seed=4) != (train, val)
    assert split_events([1, 2], 0.0, 1, seed=0)[1] != []  # min_val_events
    with pytest.raises(DataError, match="cannot be split"):
        split_events([1], 0.1, 1, seed=0)
    with pytest.raises(ConfigError):
        split_events(ids, 1.0, 1, seed=0)


def test_built_dataset_is_memory_mapped_and_holds_the_filtered_tracks(
    barrel_dir: Path, tmp_path: Path
) -> None:
    prefixes = list_events(barrel_dir)
    settings = PrepSettings()
    prepared = prepare_events(tmp_path, prefixes, settings)
    ids = [parse_event_id(p) for p in prefixes]
    train_ids, val_ids = split_events(ids, 0.34, 1, seed=0)
    selection = TrackFilter(min_hits=3, min_pt=0.6)
    normalizer = Normalizer(500.0)
    key = dataset_key(prepared, val_ids, selection, (0, 1, 2), normalizer)
    root = build_dataset(
        tmp_path / "ds" / key, prepared, ids, val_ids, selection, (0, 1, 2), normalizer
    )
    train = open_split(root, "train")
    val = open_split(root, "val")
    assert isinstance(train.coords, np.memmap) and not train.coords.flags.writeable
    # Exactly the selected tracks of the training events, in the model frame.
    expected = [
        selection.apply(settings.apply(event_tracks(read_event(p))))
        for p, e in zip(prefixes, ids, strict=True)
        if e in train_ids
    ]
    assert train.n_tracks == sum(t.n_tracks for t in expected)
    np.testing.assert_allclose(
        train.coords, np.concatenate([t.coords for t in expected]) / 500.0, rtol=1e-6
    )
    assert set(np.unique(val.event_id)) == set(val_ids)
    assert set(np.unique(train.event_id)) <= set(train_ids)
    assert np.all(train.pt >= 0.6) and np.all(train.lengths >= 3)
    # A dataset over the memory map yields every track once per epoch.
    loader = make_dataloader(
        TrackDataset.from_model_arrays(train.coords, train.offsets, normalizer), 32, seed=1
    )
    seen = np.concatenate([b.track_index.numpy() for b in loader])
    np.testing.assert_array_equal(np.sort(seen), np.arange(train.n_tracks))
    # Rebuilding is a no-op; a changed filter is another key.
    assert build_dataset(root, prepared, ids, val_ids, selection, (0, 1, 2), normalizer) == root
    assert dataset_key(prepared, val_ids, TrackFilter(min_hits=4), (0, 1, 2), normalizer) != key


def test_a_filter_that_leaves_no_track_is_one_line(barrel_dir: Path, tmp_path: Path) -> None:
    prefixes = list_events(barrel_dir)
    prepared = prepare_events(tmp_path, prefixes, PrepSettings())
    ids = [parse_event_id(p) for p in prefixes]
    with pytest.raises(DataError, match="leaves no training track") as info:
        build_dataset(
            tmp_path / "ds",
            prepared,
            ids,
            [ids[0]],
            TrackFilter(min_pt=1e6),
            (0, 1, 2),
            Normalizer(),
        )
    assert "\n" not in str(info.value)
    assert not (tmp_path / "ds").exists()  # nothing half-written


def test_damaged_dataset_cache_is_a_data_error(barrel_dir: Path, tmp_path: Path) -> None:
    prefixes = list_events(barrel_dir)
    prepared = prepare_events(tmp_path, prefixes, PrepSettings())
    ids = [parse_event_id(p) for p in prefixes]
    root = build_dataset(
        tmp_path / "ds", prepared, ids, [ids[0]], TrackFilter(min_hits=3), (0, 1, 2), Normalizer()
    )
    (root / "train" / "offsets.npy").write_bytes(b"garbage")
    with pytest.raises(DataError, match="damaged dataset cache"):
        open_split(root, "train")


def _cache_bytes(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "tracks").iterdir())}


def test_two_workers_prepare_the_same_cache_and_resume_where_a_run_stopped(
    barrel_dir: Path, tmp_path: Path
) -> None:
    prefixes = list_events(barrel_dir)
    assert len(prefixes) >= 3
    settings = PrepSettings()
    one = prepare_events(tmp_path / "one", prefixes, settings, workers=Workers(1))
    two = prepare_events(tmp_path / "two", prefixes, settings, workers=Workers(2))
    assert [p.name for p in one] == [p.name for p in two]
    assert _cache_bytes(tmp_path / "one") == _cache_bytes(tmp_path / "two")
    # A run that stopped after some events: only the missing ones are prepared again.
    kept = {p: p.stat().st_mtime_ns for p in two[1:]}
    two[0].unlink()
    assert prepare_events(tmp_path / "two", prefixes, settings, workers=Workers(2)) == two
    assert {p: p.stat().st_mtime_ns for p in two[1:]} == kept
    assert _cache_bytes(tmp_path / "one") == _cache_bytes(tmp_path / "two")
    assert not [p for p in (tmp_path / "two" / "tracks").iterdir() if p.suffix != ".npz"]


@pytest.mark.slow
def test_a_dask_cluster_prepares_the_same_cache(barrel_dir: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    prefixes = list_events(barrel_dir)
    prepare_events(tmp_path / "one", prefixes, PrepSettings(), workers=Workers(1))
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        where = Workers(1, cluster.scheduler_address)
        prepare_events(tmp_path / "dask", prefixes, PrepSettings(), workers=where)
    assert _cache_bytes(tmp_path / "one") == _cache_bytes(tmp_path / "dask")
