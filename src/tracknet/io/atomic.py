"""Atomic output: a file appears complete under its final name, or not at all.

:func:`atomic_path` and :func:`atomic_paths` write files to temporary siblings
(``.NAME.XXXXXXXX.tmp``) and rename them when complete; :func:`atomic_directory` does the
same for a directory of files and its record. The renames run under
:func:`tracknet.interrupts.uninterrupted`, so SIGINT or SIGTERM never stops them half way.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..interrupts import on_interrupt, uninterrupted

__all__ = [
    "atomic_directory",
    "atomic_path",
    "atomic_paths",
    "json_line",
    "json_ready",
    "publish_directory",
    "write_json_atomic",
    "write_text_atomic",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_sibling(path: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp creates 0600; the final file gets the usual permissions of a new file.
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    return Path(name)


def _writable_final(path: Path) -> Path:
    """The file a write to ``path`` replaces: ``path``, or the regular file a link names.

    Anything else that exists there (a folder, device, FIFO, socket, a link to one or to
    nothing) is refused: renaming over it would destroy it.
    """
    final = path.resolve() if path.is_symlink() else path
    if os.path.lexists(final) and not final.is_file():
        what = "a directory" if final.is_dir() else "not a regular file"
        shown = path if final == path else f"{path} (a link to {final})"
        raise ConfigError(f"output {shown} exists and is {what}; refusing to replace it")
    if path.is_symlink() and not final.exists() and not final.parent.is_dir():
        raise ConfigError(f"output {path} is a link to nothing ({os.readlink(path)})")
    return final


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    with atomic_paths([path]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_paths(
    paths: Sequence[str | os.PathLike[str]],
) -> Iterator[tuple[Path, ...]]:
    """Like :func:`atomic_path` for several files that belong together.

    Every file is written to a temporary sibling first; only when all of them were
    written without error are they renamed, one after the other, onto their final names.
    """
    finals = [_writable_final(Path(p)) for p in paths]
    temps: list[Path] = []
    try:
        for final in finals:
            final.parent.mkdir(parents=True, exist_ok=True)
            temps.append(_temp_sibling(final))
        yield tuple(temps)
        with uninterrupted():
            for tmp, final in zip(temps, finals, strict=True):
                os.replace(tmp, final)
    finally:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(os.scandir(path))


def _recorded_files(record: Path) -> set[str]:
    """The file names (in the record's directory) that a record's ``sha256`` lists."""
    try:
        names = json.loads(record.read_text(encoding="utf-8")).get("sha256", {})
    except (OSError, ValueError, AttributeError):
        return set()
    if not isinstance(names, dict):
        return set()
    return {n for n in names if isinstance(n, str) and n and Path(n).name == n}


def _merge_into(staging: Path, final: Path, record: str) -> None:
    """Move the files of ``staging`` into the non-empty directory ``final``.

    The old record goes first (a directory half merged names no files of two runs), the
    files the old record listed but this run did not write are removed, the new record
    comes last.
    """
    staged = sorted(entry.name for entry in os.scandir(staging))
    clash = [n for n in staged if (final / n).is_dir() and not (final / n).is_symlink()]
    if clash or any(not (staging / n).is_file() for n in staged):
        raise IsADirectoryError(
            f"cannot merge {staging} into {final}: only files can replace files ({clash})"
        )
    previous = _recorded_files(final / record)
    (final / record).unlink(missing_ok=True)
    for name in staged:
        if name != record:
            os.replace(staging / name, final / name)
    for name in sorted(previous - set(staged) - {record}):
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            (final / name).unlink()
    if record in staged:
        os.replace(staging / record, final / record)
    staging.rmdir()


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str], *, record: str) -> Iterator[Path]:
    """Yield an empty temporary sibling of the directory ``path`` to write its files into.

    When the block ends without error, the files become those of ``path``: a new or empty
    ``path`` is replaced by the temporary directory in one rename; otherwise the files are
    moved in one by one, ``record`` (the file describing the directory, whose ``sha256``
    lists its files) removed first and written last, and the files the previous record
    listed but this run did not write are removed. Either way no signal stops it half way.
    On any exception the temporary directory is removed and ``path`` is left as it was. An
    interrupt (:class:`~tracknet.interrupts.Interrupted`) is told which of the two happened.
    Only plain files (no sub-directories) can be merged into a non-empty ``path``.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fresh = not final.exists() or _is_empty_dir(final)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    os.chmod(staging, 0o777 & ~_umask())
    done: list[bool] = []

    def outcome() -> str:
        if done:
            return f"{final} is complete"
        return f"nothing written to {final}" if fresh else f"{final} left as it was"

    try:
        with on_interrupt(outcome):
            yield staging
            publish_directory(staging, final, record)
            done.append(True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def publish_directory(staging: Path, final: Path, record: str) -> None:
    """Make the files of the complete directory ``staging`` those of ``final`` (see
    :func:`atomic_directory`), with no signal stopping it half way."""
    with uninterrupted():
        if not final.exists() or _is_empty_dir(final):
            os.replace(staging, final)
        else:
            _merge_into(staging, final, record)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def json_ready(value: Any) -> Any:
    """``value`` with NaN and inf replaced by None (at any depth): strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def json_line(data: Any) -> str:
    """One line of strict JSON with sorted keys (what ``--json`` options print)."""
    return json.dumps(json_ready(data), sort_keys=True)


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    """Write strict JSON (NaN and inf as null), atomically."""
    return write_text_atomic(path, json.dumps(json_ready(data), indent=2, sort_keys=True) + "\n")
