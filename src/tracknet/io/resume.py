"""Resumable runs: a work directory that keeps every finished event, and its journal.

A run writes each event's files atomically into a work directory beside its output and
then records them, with their SHA-256, in the journal. A run started again with the same
settings (the fingerprint) skips the events whose files are still there with those
checksums; with other settings it starts afresh. The output appears, complete, only at the
end (docs/parallel.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import TrackNetError
from ..interrupts import on_interrupt
from .atomic import json_ready, publish_directory, write_text_atomic

__all__ = ["JOURNAL_DIR", "Journal", "resumable_directory", "sha256_of", "work_dir_of"]

#: The journal's folder inside a work directory.
JOURNAL_DIR = ".tracknet-run"
_RUN_FILE = "run.json"
_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def work_dir_of(output: str | os.PathLike[str]) -> Path:
    """The work directory of an output file or directory: ``.NAME.partial`` beside it."""
    path = Path(output)
    return path.parent / f".{path.name}.partial"


def _canonical(data: Any) -> str:
    return json.dumps(json_ready(data), indent=2, sort_keys=True) + "\n"


class Journal:
    """The finished events of one run in ``work_dir``: one small JSON file per event,
    written after the event's own files, naming them and their SHA-256."""

    def __init__(self, work_dir: Path, fingerprint: Mapping[str, Any]) -> None:
        self.work_dir = Path(work_dir)
        self.folder = self.work_dir / JOURNAL_DIR
        self.fingerprint = _canonical(dict(fingerprint))
        self.resumed = 0

    def open(self) -> Journal:
        """Keep the work directory of a run with the same fingerprint; clear any other."""
        run_file = self.folder / _RUN_FILE
        try:
            same = run_file.read_text(encoding="utf-8") == self.fingerprint
        except (OSError, UnicodeDecodeError):
            same = False
        if not same:
            if self.work_dir.exists() or self.work_dir.is_symlink():
                if self.work_dir.is_dir() and not self.work_dir.is_symlink():
                    shutil.rmtree(self.work_dir)
                else:
                    self.work_dir.unlink()
            self.folder.mkdir(parents=True)
            write_text_atomic(run_file, self.fingerprint)
        else:  # the temporary files of writes that a killed run left half done
            for stray in self.work_dir.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    stray.unlink()
        return self

    def _entry_path(self, key: str) -> Path:
        if not _KEY.fullmatch(key) or key == _RUN_FILE.removesuffix(".json"):
            raise ValueError(f"not a journal key: {key!r}")
        return self.folder / f"{key}.json"

    def completed(self, key: str) -> dict[str, Any] | None:
        """The entry of ``key`` if its files are all there with their recorded checksums."""
        try:
            entry = json.loads(self._entry_path(key).read_text(encoding="utf-8"))
            files = entry["files"]
            ok = isinstance(files, dict) and all(
                sha256_of(self.work_dir / name) == digest for name, digest in files.items()
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if ok:
            self.resumed += 1
            return dict(entry)
        return None

    def record(
        self, key: str, files: Mapping[str, str], data: Mapping[str, Any] | None = None
    ) -> None:
        """Record ``key`` finished: its files (name -> SHA-256) and any figures of it."""
        write_text_atomic(
            self._entry_path(key), _canonical({"files": dict(files), "data": dict(data or {})})
        )

    def close(self) -> None:
        """Remove the journal (the run's outputs are complete)."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def remove(self) -> None:
        """Remove the whole work directory."""
        shutil.rmtree(self.work_dir, ignore_errors=True)


@contextlib.contextmanager
def resumable_directory(
    path: str | os.PathLike[str], *, record: str, fingerprint: Mapping[str, Any]
) -> Iterator[Journal]:
    """Like :func:`~tracknet.io.atomic.atomic_directory`, but resumable: the events go
    into the work directory ``journal.work_dir`` (kept after an error or an interrupt) and
    the directory ``path`` gets the files, ``record`` last, only when the block ends."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    journal = Journal(work_dir_of(final), fingerprint).open()
    done: list[bool] = []

    def outcome() -> str:
        if done:
            return f"{final} is complete"
        return (
            f"{final} left as it was; the finished events are kept in {journal.work_dir}: "
            "the same command resumes there"
        )

    with on_interrupt(outcome):
        try:
            yield journal
        except TrackNetError:  # bad input ends the run for good; an interrupt keeps it
            journal.remove()
            raise
        journal.close()
        publish_directory(journal.work_dir, final, record)
        done.append(True)
