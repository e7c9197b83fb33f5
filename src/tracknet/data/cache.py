"""On-disk caches of training tracks: parse each event's CSV once, stream the rest.

Two content-keyed levels of plain NumPy files: prepared events (one
:class:`~tracknet.data.tracks.TrackSet` ``.npz`` per event, after :class:`PrepSettings`)
and datasets (the selected tracks of a train/val split in the model frame, read through a
memory map). Also :func:`split_events` and :func:`default_cache_root`.

See ``docs/training-data.md`` (Caching) for the layout, keys and atomicity.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..errors import ConfigError, DataError
from ..io.trackml import available_parts, parse_event_id, part_path, read_event
from ..parallel import Workers, run_ordered
from .filters import REPEATED_LAYER_KEEP, TrackFilter, drop_repeated_layers
from .normalize import Normalizer
from .tracks import TRACKSET_FORMAT_VERSION, TrackSet, event_tracks

__all__ = [
    "CACHE_ENV",
    "DATASET_FORMAT_VERSION",
    "PREPARATION_VERSION",
    "FlatTracks",
    "PrepSettings",
    "build_dataset",
    "dataset_key",
    "default_cache_root",
    "event_fingerprint",
    "open_split",
    "prepare_event",
    "prepare_events",
    "prepared_event_path",
    "split_events",
    "stable_hash",
]

#: Environment variable naming the cache root (default ``~/.cache/tracknet``).
CACHE_ENV = "TRACKNET_CACHE_DIR"
#: Bumped whenever the preparation of an event changes what it produces.
PREPARATION_VERSION = 1
#: Version of the flat dataset layout.
DATASET_FORMAT_VERSION = 1
_PARTS_FOR_TRACKS = ("hits", "truth", "particles", "blacklist_hits", "blacklist_particles")
_SPLITS = ("train", "val")


def default_cache_root() -> Path:
    """``$TRACKNET_CACHE_DIR`` or ``~/.cache/tracknet``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tracknet"


def stable_hash(payload: Any, length: int = 20) -> str:
    """Hex SHA-256 of the canonical JSON of ``payload`` (sorted keys), truncated."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True)
class PrepSettings:
    """How an event becomes tracks (part of the prepared-event cache key).

    ``drop_repeated_layers`` keeps one hit per track and (volume, layer), chosen by
    ``repeated_layer_keep`` (see :func:`tracknet.data.filters.drop_repeated_layers`).
    """

    apply_blacklists: bool = True
    drop_repeated_layers: bool = True
    repeated_layer_keep: str = "first"

    def __post_init__(self) -> None:
        if self.repeated_layer_keep not in REPEATED_LAYER_KEEP:
            raise ConfigError(
                f"repeated_layer_keep must be one of {list(REPEATED_LAYER_KEEP)}, "
                f"got {self.repeated_layer_keep!r}"
            )

    def config(self) -> dict[str, Any]:
        return asdict(self)

    def apply(self, tracks: TrackSet) -> TrackSet:
        """The transforms of these settings on an event's tracks."""
        if self.drop_repeated_layers:
            tracks = drop_repeated_layers(tracks, keep=self.repeated_layer_keep)
        return tracks


def event_fingerprint(prefix: str | os.PathLike[str]) -> dict[str, list[int | str]]:
    """Name, size and modification time (ns) of each file of an event that tracks read."""
    out: dict[str, list[int | str]] = {}
    for part in _PARTS_FOR_TRACKS:
        path = part_path(prefix, part)
        if path is not None:
            stat = path.stat()
            out[part] = [path.name, int(stat.st_size), int(stat.st_mtime_ns)]
    if "hits" not in out:
        raise DataError("event has no hits file", file=str(prefix))
    return out


def prepared_event_path(
    root: str | os.PathLike[str], prefix: str | os.PathLike[str], settings: PrepSettings
) -> Path:
    """Where the prepared tracks of the event ``prefix`` are cached."""
    key = stable_hash(
        {
            "fingerprint": event_fingerprint(prefix),
            "settings": settings.config(),
            "preparation_version": PREPARATION_VERSION,
            "trackset_format": TRACKSET_FORMAT_VERSION,
        }
    )
    return Path(root) / "tracks" / f"event{parse_event_id(prefix):09d}-{key}.npz"


def prepare_event(
    root: str | os.PathLike[str], prefix: str | os.PathLike[str], settings: PrepSettings
) -> Path:
    """The cached tracks of one event, parsing its CSV only when no entry exists."""
    path = prepared_event_path(root, prefix, settings)
    if path.is_file():
        return path
    parts = tuple(p for p in available_parts(prefix) if p in _PARTS_FOR_TRACKS)
    missing = [p for p in ("truth", "particles") if p not in parts]
    if missing:
        raise DataError(
            f"event has no {' or '.join(missing)} file, so no training tracks can be built",
            file=str(prefix),
        )
    event = read_event(prefix, parts=parts)
    tracks = settings.apply(event_tracks(event, apply_blacklists=settings.apply_blacklists))
    path.parent.mkdir(parents=True, exist_ok=True)
    tracks.save(path)
    return path


def prepare_events(
    root: str | os.PathLike[str],
    prefixes: Sequence[str | os.PathLike[str]],
    settings: PrepSettings,
    *,
    workers: Workers | None = None,
    progress: bool = False,
) -> list[Path]:
    """:func:`prepare_event` for every prefix: the cache paths, in the order of
    ``prefixes``. Events not cached yet are prepared by ``workers`` (default: this
    process), each written atomically, so an interrupted preparation resumes where it
    stopped; ``progress`` shows a bar over events."""
    paths = [prepared_event_path(root, p, settings) for p in prefixes]
    todo = [p for p, path in zip(prefixes, paths, strict=True) if not path.is_file()]
    task = functools.partial(prepare_event, Path(root), settings=settings)
    bar = tqdm(
        total=len(paths),
        initial=len(paths) - len(todo),
        desc="prepare tracks",
        unit="event",
        disable=not progress,
    )
    with bar:
        for _ in run_ordered(task, todo, workers or Workers(), preload=(__name__,)):
            bar.update()
    return paths


def split_events(
    event_ids: Sequence[int], val_fraction: float, min_val_events: int, seed: int
) -> tuple[list[int], list[int]]:
    """Reproducible split by event: ``(train_ids, val_ids)``, each sorted.

    ``round(val_fraction * n)`` events (at least ``min_val_events``, at most ``n - 1``)
    go to validation, chosen by a permutation from ``numpy.random.default_rng(seed)`` of
    the sorted ids, so the split depends only on the ids and the seed.
    """
    ids = sorted(int(e) for e in event_ids)
    n = len(ids)
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
    if min_val_events < 0:
        raise ConfigError(f"data.min_val_events must be >= 0, got {min_val_events}")
    n_val = max(round(val_fraction * n), int(min_val_events))
    if n_val > 0 and n - n_val < 1:
        raise DataError(
            f"{n} event(s) cannot be split into training and validation events by event; "
            f"need at least {n_val + 1}"
        )
    perm = np.random.default_rng(int(seed)).permutation(n)
    val = sorted(ids[i] for i in perm[:n_val])
    train = sorted(ids[i] for i in perm[n_val:])
    return train, val


def dataset_key(
    prepared: Sequence[Path],
    val_ids: Sequence[int],
    track_filter: TrackFilter,
    dims: Sequence[int],
    normalizer: Normalizer,
) -> str:
    """Hash of everything a built dataset depends on."""
    return stable_hash(
        {
            "prepared": [Path(p).name for p in prepared],
            "val": sorted(int(v) for v in val_ids),
            "filter": track_filter.config(),
            "dims": [int(d) for d in dims],
            "normalizer": normalizer.config(),
            "format": DATASET_FORMAT_VERSION,
        }
    )


@dataclass
class FlatTracks:
    """The tracks of one split in the model frame; ``coords`` may be a read-only memmap.

    ``coords`` ``(n_hits, D)`` float32, ``offsets`` ``(n_tracks + 1,)`` int64, and per track
    ``event_id``, ``particle_id``, ``pt`` (GeV), ``eta``.
    """

    coords: np.ndarray
    offsets: np.ndarray
    event_id: np.ndarray
    particle_id: np.ndarray
    pt: np.ndarray
    eta: np.ndarray

    @property
    def n_tracks(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_hits(self) -> int:
        return int(self.offsets[-1])

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


class _SplitWriter:
    """Appends the tracks of one event after another to the files of one split."""

    def __init__(self, directory: Path, n_dims: int) -> None:
        self.directory = directory
        directory.mkdir(parents=True)
        self.n_dims = n_dims
        self._coords = directory / "coords.f32"
        self._coords.write_bytes(b"")
        self._offsets: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
        self._per_track: dict[str, list[np.ndarray]] = {
            "event_id": [],
            "particle_id": [],
            "pt": [],
            "eta": [],
        }
        self.n_hits = 0
        self.n_tracks = 0

    def add(self, coords: np.ndarray, tracks: TrackSet) -> None:
        with self._coords.open("ab") as handle:
            handle.write(np.ascontiguousarray(coords, dtype=np.float32).tobytes())
        self._offsets.append(tracks.offsets[1:] + self.n_hits)
        for name, values in self._per_track.items():
            values.append(np.asarray(getattr(tracks, name)))
        self.n_hits += tracks.n_hits
        self.n_tracks += tracks.n_tracks

    def close(self) -> dict[str, int]:
        np.save(self.directory / "offsets.npy", np.concatenate(self._offsets))
        np.savez(
            self.directory / "tracks.npz",
            event_id=np.concatenate(self._per_track["event_id"] or [np.zeros(0, np.int64)]).astype(
                np.int64
            ),
            particle_id=np.concatenate(
                self._per_track["particle_id"] or [np.zeros(0, np.int64)]
            ).astype(np.int64),
            pt=np.concatenate(self._per_track["pt"] or [np.zeros(0, np.float32)]).astype(
                np.float32
            ),
            eta=np.concatenate(self._per_track["eta"] or [np.zeros(0, np.float32)]).astype(
                np.float32
            ),
        )
        return {"n_hits": self.n_hits, "n_tracks": self.n_tracks, "n_dims": self.n_dims}


def build_dataset(
    directory: str | os.PathLike[str],
    prepared: Sequence[Path],
    event_ids: Sequence[int],
    val_ids: Sequence[int],
    track_filter: TrackFilter,
    dims: Sequence[int],
    normalizer: Normalizer,
) -> Path:
    """Write the train/val splits of ``prepared`` (one file per event id) into ``directory``.

    No-op when ``directory/manifest.json`` exists. Events are read one at a time. Raises
    :class:`DataError` when the filter leaves no training track.
    """
    final = Path(directory)
    if (final / "manifest.json").is_file():
        return final
    dims = [int(d) for d in dims]
    val_set = {int(v) for v in val_ids}
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        writers = {name: _SplitWriter(tmp / name, len(dims)) for name in _SPLITS}
        total = 0
        for path, event_id in zip(prepared, event_ids, strict=True):
            tracks = TrackSet.load(path)
            total += tracks.n_tracks
            selected = track_filter.apply(tracks)
            coords = normalizer.to_model(selected.coords[:, dims].astype(np.float64))
            writers["val" if int(event_id) in val_set else "train"].add(coords, selected)
        counts = {name: w.close() for name, w in writers.items()}
        if counts["train"]["n_tracks"] == 0:
            raise DataError(
                f"the track filter {track_filter.config()} leaves no training track "
                f"(of {total} tracks in {len(prepared)} event(s))"
            )
        manifest = {
            "format": DATASET_FORMAT_VERSION,
            "dims": dims,
            "normalizer": normalizer.config(),
            "filter": track_filter.config(),
            "train_events": sorted(int(e) for e in event_ids if int(e) not in val_set),
            "val_events": sorted(val_set),
            "splits": counts,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        try:
            os.replace(tmp, final)
        except OSError:
            if not (final / "manifest.json").is_file():  # not a concurrent builder's success
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def open_split(directory: str | os.PathLike[str], split: str) -> FlatTracks:
    """The tracks of ``split`` (``"train"`` or ``"val"``) of a built dataset.

    ``coords`` is memory-mapped.
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")
    root = Path(directory)
    try:
        manifest = json.loads((root / "manifest.json").read_text())
        counts = manifest["splits"][split]
        base = root / split
        offsets = np.load(base / "offsets.npy", allow_pickle=False)
        with np.load(base / "tracks.npz", allow_pickle=False) as meta:
            per_track = {k: meta[k] for k in ("event_id", "particle_id", "pt", "eta")}
        shape = (int(counts["n_hits"]), int(counts["n_dims"]))
        coords = (
            np.memmap(base / "coords.f32", dtype=np.float32, mode="r", shape=shape)
            if shape[0] > 0
            else np.zeros(shape, dtype=np.float32)
        )
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(
            f"damaged dataset cache ({exc}); delete it to rebuild", file=str(root)
        ) from None
    if len(offsets) != int(counts["n_tracks"]) + 1 or int(offsets[-1]) != shape[0]:
        raise DataError(
            "damaged dataset cache (offsets do not match); delete it to rebuild", file=str(root)
        )
    return FlatTracks(coords=coords, offsets=offsets.astype(np.int64), **per_track)
