"""The one directory driver: build every event of a dataset directory into one submission.

:func:`build_directory` asks the directory's detector
(:func:`tracknet.detectors.detector_of`) for its :class:`~tracknet.building.backend.BuildBackend`
and runs it the same way for every detector: inputs checked first, units of work built
under one progress bar, then the submission and its build record written as one unit.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..detectors import detector_of
from ..errors import ConfigError, DataError, TrackNetError
from ..evaluation.report import build_meta_path
from ..interrupts import on_interrupt
from ..io.atomic import atomic_paths, json_ready
from ..io.resume import Journal, work_dir_of
from ..io.straw import sha256_file
from ..io.submissions import write_submission_parts
from ..io.trackml import write_submission
from ..model.checkpoint import load_checkpoint
from ..model.seed_lstm import load_seed_lstm
from ..notes import note
from ..parallel import Workers, run_ordered
from ..schema import Settings
from .settings import MODEL_ALGORITHMS, check_algorithm
from .straw.backend import StrawBuildBackend

__all__ = ["DirectoryBuild", "build_directory", "parse_event_list"]


@dataclass(frozen=True)
class DirectoryBuild:
    """What :func:`build_directory` wrote: the submission, its build record (JSON beside
    it, see :func:`tracknet.evaluation.report.build_meta_path`) and figures per event
    (TrackML events; empty for straw datasets)."""

    path: Path
    meta_path: Path
    n_events: int
    n_hits: int
    n_tracks: int
    seconds_per_event: float
    events: dict[int, dict[str, float | int]]


def parse_event_list(text: str | None) -> list[int] | None:
    """``"1000,1001"`` -> ``[1000, 1001]``; ``None`` or blank -> ``None`` (all events)."""
    if text is None or not text.strip():
        return None
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--events must be comma-separated integers, got {text!r}") from None
    if any(i < 0 for i in ids):
        raise ConfigError(f"--events must be non-negative event ids, got {text!r}")
    return ids


def build_directory(
    data_dir: str | os.PathLike[str],
    out_csv: str | os.PathLike[str],
    algorithm: str = "tracknet",
    checkpoint: str | os.PathLike[str] | None = None,
    events: Iterable[int] | None = None,
    progress: bool = True,
    config: Settings | None = None,
    workers: Workers | None = None,
) -> DirectoryBuild:
    """Build every event (or the ``events`` ids) of ``data_dir`` into one submission CSV.

    ``config``: the settings of the directory's detector (a TrackML directory:
    :class:`~tracknet.building.settings.BuildConfig`; a straw dataset:
    :class:`~tracknet.building.straw.StrawBuildConfig`); anything else: its defaults.

    Inputs are checked before any work: the algorithm, the checkpoint (``tracknet`` only;
    it must open with :func:`~tracknet.model.checkpoint.load_checkpoint` and suit the
    detector), the directory and the event ids. The CSV ``event_id,hit_id,track_id`` is
    written atomically at the end, so a failure leaves no output file; then, beside it
    (``SUB.csv`` -> ``SUB.build.json``), the build record that ``tracknet evaluate
    --report`` reads: algorithm, checkpoint, settings, and seconds per event (reading
    excluded).
    """
    from tqdm.auto import tqdm

    backend = detector_of(data_dir).build_backend()
    settings: Any = config if isinstance(config, backend.config_type) else backend.config_type()
    check_algorithm(algorithm)
    loaded: Any = None
    if algorithm == "tracknet":
        if checkpoint is None:
            raise ConfigError("algorithm 'tracknet' needs --checkpoint")
        loaded = load_checkpoint(checkpoint)
        backend.check_model(loaded, str(checkpoint), settings)
    elif algorithm == "seed-lstm":
        if not isinstance(backend, StrawBuildBackend):
            raise ConfigError(
                "algorithm 'seed-lstm' builds straw events only; "
                "this directory holds TrackML events"
            )
        if checkpoint is None:
            raise ConfigError(
                "algorithm 'seed-lstm' needs --checkpoint (tracknet train experiment=straw_seed)"
            )
        loaded = load_seed_lstm(checkpoint)
    out = Path(out_csv)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory")
    selection = backend.select_events(data_dir, None if events is None else list(events))
    builder = backend.builder(algorithm, loaded, settings)

    checksum: list[str] = []  # the SHA-256 of the submission, once written
    if hasattr(builder, "event_task"):
        return _build_events(
            data_dir, out, algorithm, checkpoint, selection, builder, backend, settings,
            progress, workers or Workers(), checksum,
        )  # fmt: skip
    with on_interrupt(lambda: _interrupt_outcome(out, checksum)):
        frames: list[pd.DataFrame] = []
        per_event: dict[int, dict[str, float | int]] = {}
        seconds = 0.0
        n_events = n_tracks = 0
        bar = tqdm(
            total=selection.n_events,
            desc=f"{backend.progress_label} ({algorithm})",
            unit="event",
            disable=not progress,
        )
        for unit in builder.units(selection):
            built = builder.build(unit)
            frames.append(built.submission)
            per_event.update(built.events)
            seconds += built.seconds
            n_events += built.n_events
            n_tracks += built.n_tracks
            bar.update(built.n_events)
            bar.set_postfix(tracks=n_tracks, ev_per_s=f"{n_events / max(seconds, 1e-9):.0f}")
        bar.close()
        if not frames:
            raise DataError("no events to build", file=str(data_dir))
        submission = pd.concat(frames, ignore_index=True)
        result = DirectoryBuild(
            path=out,
            meta_path=build_meta_path(out),
            n_events=n_events,
            n_hits=len(submission),
            n_tracks=n_tracks,
            seconds_per_event=seconds / max(n_events, 1),
            events=per_event,
        )
        record = _record(algorithm, checkpoint, data_dir, result, settings, builder)
        _write_submission_and_record(submission, out, result.meta_path, record, checksum)
    return result


def _record(
    algorithm: str,
    checkpoint: str | os.PathLike[str] | None,
    data_dir: str | os.PathLike[str],
    result: DirectoryBuild,
    settings: Any,
    builder: Any,
) -> dict[str, Any]:
    return {
        "algorithm": algorithm,
        "checkpoint": str(checkpoint)
        if checkpoint is not None and algorithm in MODEL_ALGORITHMS
        else None,
        "data_dir": str(data_dir),
        "n_events": result.n_events,
        "n_hits": result.n_hits,
        "n_tracks": result.n_tracks,
        "mean_seconds_per_event": result.seconds_per_event,
        "config": settings.to_dict(),
        **builder.record_extras(),
    }


def _build_events(
    data_dir: str | os.PathLike[str],
    out: Path,
    algorithm: str,
    checkpoint: str | os.PathLike[str] | None,
    selection: Any,
    builder: Any,
    backend: Any,
    settings: Any,
    progress: bool,
    workers: Workers,
    checksum: list[str],
) -> DirectoryBuild:
    """Build event by event, by ``workers``, resumably: each event's rows go into the work
    directory beside ``out`` (:func:`~tracknet.io.resume.work_dir_of`) and the journal;
    the submission is written from them at the end, then the build record."""
    from tqdm.auto import tqdm

    prefixes: list[Path] = list(builder.units(selection))
    if not prefixes:
        raise DataError("no events to build", file=str(data_dir))
    fingerprint = {
        "algorithm": algorithm,
        "checkpoint": None if checkpoint is None else sha256_file(Path(checkpoint)),
        "config": settings.to_dict(),
        "inputs": [_input_stamp(p) for p in prefixes],
    }
    journal = Journal(work_dir_of(out), fingerprint).open()
    task = builder.event_task(journal.work_dir, None if checkpoint is None else str(checkpoint))

    def outcome() -> str:
        if checksum and out.is_file() and sha256_file(out) == checksum[0]:
            return f"{out} and its build record are complete"
        return (
            f"nothing written to {out}; the events built are kept in {journal.work_dir}: "
            "the same command resumes there"
        )

    with on_interrupt(outcome), _removed_on_input_error(journal):
        keys = [p.name for p in prefixes]
        entries = {key: journal.completed(key) for key in keys}
        todo = [p for p in prefixes if entries[p.name] is None]
        if journal.resumed:
            note(f"resuming: {journal.resumed} of {len(keys)} events already built")
        n_tracks = sum(int(e["data"]["figures"]["n_tracks"]) for e in entries.values() if e)
        with tqdm(
            total=len(keys),
            initial=len(keys) - len(todo),
            desc=f"{backend.progress_label} ({algorithm})",
            unit="event",
            disable=not progress,
        ) as bar:
            for prefix, built in zip(
                todo,
                run_ordered(task, todo, workers, preload=("tracknet.building.trackml",)),
                strict=True,
            ):
                files = {built["file"]: built["sha256"]}
                journal.record(prefix.name, files, built)
                entries[prefix.name] = {"files": files, "data": built}
                n_tracks += int(built["figures"]["n_tracks"])
                bar.update()
                bar.set_postfix(tracks=n_tracks)
        done = [entries[key] for key in keys]
        per_event = {int(e["data"]["event_id"]): e["data"]["figures"] for e in done if e}
        builder.per_event = per_event
        seconds = sum(float(f["seconds"]) for f in per_event.values())
        result = DirectoryBuild(
            path=out,
            meta_path=build_meta_path(out),
            n_events=len(per_event),
            n_hits=sum(int(f["n_hits"]) for f in per_event.values()),
            n_tracks=sum(int(f["n_tracks"]) for f in per_event.values()),
            seconds_per_event=seconds / max(len(per_event), 1),
            events=per_event,
        )
        record = _record(algorithm, checkpoint, data_dir, result, settings, builder)
        parts = (np.load(journal.work_dir / next(iter(e["files"]))) for e in done if e)
        _write_parts_and_record(parts, out, result.meta_path, record, checksum)
        journal.remove()
    return result


@contextlib.contextmanager
def _removed_on_input_error(journal: Journal) -> Iterator[None]:
    """An input error ends the run for good: its work directory goes (an interrupt or a
    crash keeps it, to resume)."""
    try:
        yield
    except TrackNetError:
        journal.remove()
        raise


def _input_stamp(prefix: Path) -> list[Any]:
    """Name, size and modification time of an event's hits file (an edit restarts a run)."""
    from ..io.trackml import part_path

    path = part_path(prefix, "hits")
    stat = path.stat() if path is not None else None
    return [prefix.name, None if stat is None else stat.st_size,
            None if stat is None else stat.st_mtime_ns]  # fmt: skip


def _write_parts_and_record(
    parts: Iterable[np.ndarray],
    out: Path,
    meta_path: Path,
    record: dict[str, Any],
    checksum: list[str],
) -> None:
    """:func:`_write_submission_and_record` for a submission streamed from its parts."""
    with atomic_paths([out, meta_path]) as (tmp_out, tmp_meta):
        named = tmp_out.with_name(tmp_out.name + (".gz" if out.name.endswith(".gz") else ""))
        try:
            write_submission_parts(parts, named)
            if named != tmp_out:
                os.replace(named, tmp_out)
        finally:
            if named != tmp_out:
                named.unlink(missing_ok=True)
        checksum.append(sha256_file(tmp_out))
        record = {**record, "submission_sha256": checksum[0]}
        tmp_meta.write_text(
            json.dumps(json_ready(record), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )


def _interrupt_outcome(out: Path, checksum: list[str]) -> str:
    if checksum and out.is_file() and sha256_file(out) == checksum[0]:
        return f"{out} and its build record are complete"
    return f"nothing written to {out}"


def _write_submission_and_record(
    submission: pd.DataFrame,
    out: Path,
    meta_path: Path,
    record: dict[str, Any],
    checksum: list[str],
) -> None:
    """Write the submission and its record (with the submission's SHA-256, also appended to
    ``checksum``) as one unit."""
    with atomic_paths([out, meta_path]) as (tmp_out, tmp_meta):
        if out.name.endswith(".gz"):
            # write_submission compresses by the name: write under a ``.gz`` name first.
            named = tmp_out.with_name(tmp_out.name + ".gz")
            try:
                write_submission(submission, named)
                os.replace(named, tmp_out)
            finally:
                named.unlink(missing_ok=True)
        else:
            write_submission(submission, tmp_out)
        checksum.append(sha256_file(tmp_out))
        record = {**record, "submission_sha256": checksum[0]}
        tmp_meta.write_text(
            json.dumps(json_ready(record), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
