"""Convert a directory of TrackML events between CSV and Parquet, file by file.

Every part present of every event is read strictly (:func:`tracknet.io.trackml.read_part`)
and written in the other format with its rows in their order, so the converted files read
back to the same tables. Nothing else is copied; the output holds the record
``tracknet-convert.json`` (the format and the SHA-256 of every file written).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from tqdm import tqdm

from ..errors import ConfigError, DataError
from ..events import Event
from .atomic import atomic_directory, write_json_atomic
from .event_files import EVENT_FILES, available_parts, list_events, parse_event_id
from .resume import sha256_of
from .trackml import EVENT_FORMATS, read_part, write_event

__all__ = ["CONVERT_RECORD", "convert_events"]

#: The record of a converted directory.
CONVERT_RECORD = "tracknet-convert.json"


def convert_events(
    data_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    fmt: str,
    compress: bool = False,
    event_ids: Iterable[int] | None = None,
    progress: bool = False,
) -> list[Path]:
    """Write the events of ``data_dir`` (or those of ``event_ids``) into ``out`` as ``fmt``
    (``"csv"``, with ``compress`` ``.csv.gz``, or ``"parquet"``); return their prefixes.

    ``out`` gets the files all at once at the end (:func:`~tracknet.io.atomic.atomic_directory`):
    after an error it is left as it was.
    """
    if fmt not in EVENT_FORMATS:
        raise ConfigError(f"--to must be one of {list(EVENT_FORMATS)}, got {fmt!r}")
    if compress and fmt != "csv":
        raise ConfigError(f"--gzip compresses CSV files only, not --to {fmt}")
    source, final = Path(data_dir), Path(out)
    if final.exists() and not final.is_dir():
        raise ConfigError(f"--out {final} exists and is not a directory")
    if final.exists() and source.is_dir() and final.resolve() == source.resolve():
        raise ConfigError(f"--out {final} is --data-dir: write the converted events elsewhere")
    prefixes = list_events(source)
    if not prefixes:
        raise DataError(f"no TrackML events ({EVENT_FILES}) in directory", file=str(source))
    if event_ids is not None:
        wanted = {int(e) for e in event_ids}
        missing = sorted(wanted - {parse_event_id(p) for p in prefixes})
        if missing:
            raise DataError(f"event(s) {missing} not found in directory", file=str(source))
        prefixes = [p for p in prefixes if parse_event_id(p) in wanted]
    checksums: dict[str, str] = {}
    with atomic_directory(final, record=CONVERT_RECORD) as staging:
        for prefix in tqdm(prefixes, desc=f"convert to {fmt}", unit="event", disable=not progress):
            frames = {part: read_part(prefix, part) for part in available_parts(prefix)}
            event = Event(parse_event_id(prefix), frames["hits"]).with_parts(**frames)
            for path in write_event(event, staging, fmt=fmt, compress=compress):
                checksums[path.name] = sha256_of(path)
        record = {"format": fmt, "gzip": compress, "n_events": len(prefixes), "sha256": checksums}
        write_json_atomic(staging / CONVERT_RECORD, record)
    return [final / p.name for p in prefixes]
