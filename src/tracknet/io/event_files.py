"""Names of TrackML event files, and the one scanner of event directories.

A part is one file: ``event<9 digits>-<part>.csv``, ``.csv.gz`` or ``.parquet``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..events import PART_SCHEMAS
from ..notes import note

__all__ = [
    "EVENT_FILES",
    "EVENT_PATTERN",
    "PART_SUFFIXES",
    "as_prefix",
    "available_parts",
    "event_prefix",
    "list_events",
    "parse_event_id",
    "part_path",
]

#: The endings of a part's file, in the order they are looked for.
PART_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".parquet")
#: How errors name the files that make a directory hold TrackML events.
EVENT_FILES = "event<9 digits>-hits.csv[.gz] or -hits.parquet"
EVENT_PATTERN = re.compile(r"^event(\d{9})-hits\.(?:csv(\.gz)?|parquet)$")
#: A name that looks like a file of an event part, whatever the number of digits.
_PART_FILE = re.compile(r"^event(\d+)-(\w+?)\.(?:csv(?:\.gz)?|parquet)$")
_PREFIX_PATTERN = re.compile(r"event(\d{9})")
#: Skipped files named in a note, at most.
_NOTE_NAMES = 5
#: The records TrackNET writes beside the event files of a data set it made.
RECORD_FILES: tuple[str, ...] = (
    "tracknet-simulation.json",
    "tracknet-dataset.json",
    "tracknet-convert.json",
)


def event_prefix(directory: str | os.PathLike[str], event_id: int) -> Path:
    """``directory/event000001000`` for event 1000."""
    return Path(directory) / f"event{int(event_id):09d}"


def as_prefix(path: str | os.PathLike[str]) -> Path:
    """The event prefix of a prefix or of one of its files (``.../event000001000-hits.csv``)."""
    path = Path(path)
    for suffix in sorted(PART_SUFFIXES, key=len, reverse=True):
        if path.name.endswith(suffix):
            return path.with_name(path.name[: -len(suffix)].rsplit("-", 1)[0])
    return path


def parse_event_id(prefix: str | os.PathLike[str]) -> int:
    """The event id of a prefix such as ``.../event000001000``."""
    match = _PREFIX_PATTERN.fullmatch(Path(prefix).name)
    if match is None:
        raise DataError(f"not an event prefix (expected 'event<9 digits>'): {prefix}")
    return int(match.group(1))


def part_path(prefix: str | os.PathLike[str], part: str) -> Path | None:
    """The existing file of ``part`` for ``prefix`` (``.csv``, ``.csv.gz`` or ``.parquet``;
    two of them is an error)."""
    base = Path(prefix)
    found = [
        candidate
        for candidate in (base.with_name(f"{base.name}-{part}{s}") for s in PART_SUFFIXES)
        if candidate.is_file()
    ]
    if len(found) > 1:
        raise DataError(
            f"both {found[0].name} and {found[1].name} are there; keep one",
            file=str(base.parent),
        )
    return found[0] if found else None


def available_parts(prefix: str | os.PathLike[str]) -> tuple[str, ...]:
    """The parts present on disk for ``prefix``."""
    return tuple(p for p in PART_SCHEMAS if part_path(prefix, p) is not None)


def _check_records(root: Path, present: set[str]) -> None:
    """The event files of ``root`` are those its TrackNET record lists, if it has one.

    A record (``tracknet-simulation.json`` of ``simulate``, ``tracknet-dataset.json`` of
    ``overlay``, ``tracknet-convert.json`` of ``convert``) names every file it wrote with
    its checksum; event files it does not name, or names that are gone, mean the directory
    is not the data set the record describes.
    """
    for record in RECORD_FILES:
        path = root / record
        if not path.is_file():
            continue
        try:
            sums = json.loads(path.read_text(encoding="utf-8")).get("sha256")
        except (OSError, ValueError, AttributeError):
            raise DataError("unreadable record (not a JSON object)", file=str(path)) from None
        if not isinstance(sums, dict):
            raise DataError("record has no 'sha256' object listing its files", file=str(path))
        listed = {name for name in sums if isinstance(name, str) and _PART_FILE.match(name)}
        missing, unlisted = sorted(listed - present), sorted(present - listed)
        if missing or unlisted:
            what = (
                f"{len(missing)} event file(s) it lists are missing (first: {missing[0]})"
                if missing
                else f"{len(unlisted)} event file(s) beside it are not listed in it "
                f"(first: {unlisted[0]})"
            )
            raise DataError(
                f"{what}: the directory is not the data set this record describes (rerun "
                "the command that wrote it, or move the odd files out)",
                file=str(path),
            )


def list_events(directory: str | os.PathLike[str]) -> list[Path]:
    """The event prefixes of a directory (those with a hits file), sorted by event id.

    The one scanner of event directories. Files named like an event's that are not read
    (an id of other than nine digits, parts without a hits file) are named in a note on
    stderr; a part in two files (``-hits.csv`` and ``-hits.csv.gz`` or ``-hits.parquet``)
    is an error.
    """
    root = Path(directory)
    if not root.is_dir():
        raise DataError("no such directory", file=str(root))
    files: dict[tuple[str, str], list[str]] = {}
    skipped: dict[str, str] = {}
    with os.scandir(root) as entries:
        for entry in entries:
            match = _PART_FILE.match(entry.name)
            if match is None or match.group(2) not in PART_SCHEMAS:
                continue
            digits, part = match.group(1), match.group(2)
            if len(digits) != 9:
                skipped[f"event{digits}"] = "its id is not nine digits"
            elif entry.is_file():
                files.setdefault((digits, part), []).append(entry.name)
            elif part == "hits":
                skipped[f"event{digits}"] = f"{entry.name} is not a file"
    _check_records(root, {name for names in files.values() for name in names})
    for names in files.values():
        if len(names) > 1:
            first, second = sorted(names)[:2]
            raise DataError(f"both {first} and {second} are there; keep one", file=str(root))
    hits = sorted(digits for digits, part in files if part == "hits")
    with_hits = set(hits)
    for digits, _ in files:
        if digits not in with_hits:
            skipped.setdefault(f"event{digits}", "no hits file")
    for digits in hits:
        skipped.pop(f"event{digits}", None)
    if skipped:
        listed = [f"{name} ({why})" for name, why in sorted(skipped.items())]
        more = f", and {len(listed) - _NOTE_NAMES} more" if len(listed) > _NOTE_NAMES else ""
        note(
            f"{root}: skipped {len(listed)} event(s) that cannot be read: "
            f"{', '.join(listed[:_NOTE_NAMES])}{more}"
        )
    return [root / f"event{digits}" for digits in hits]


def wanted_columns(
    names: Sequence[str],
    schema: Mapping[str, np.dtype],
    optional: Mapping[str, np.dtype],
    path: Path,
    where: str,
) -> dict[str, np.dtype]:
    """The columns to read from a file whose columns are ``names``: every column of
    ``schema`` (one missing is a :class:`DataError`) and those of ``optional`` present,
    each at most once (in ``where``: the header, the file)."""
    for column in schema:
        if column not in names:
            raise DataError("missing column", file=str(path), column=column)
    wanted = {**schema, **{k: v for k, v in optional.items() if k in names}}
    for column in wanted:
        if names.count(column) > 1:
            raise DataError(f"column appears twice in {where}", file=str(path), column=column)
    return wanted
