"""Interrupted runs: SIGINT or SIGTERM in the middle of a command leaves complete outputs or
none, no temporary file, one line on stderr and a non-zero exit (128 + the signal).

Each command runs as a subprocess (``python -m tracknet ...``) and is interrupted once it
is observably in the middle of its work: files in its temporary directory, a progress
bar past its first step, or a first checkpoint on disk. No test-only hook is involved.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import TINY_TRAINING, make_small_event, tiny_overrides
from tracknet.interrupts import Interrupted, interrupt_of, on_interrupt, raising_signals
from tracknet.io.atomic import atomic_directory, atomic_paths

#: How long a subprocess may take to reach the point where it is interrupted, and to stop.
START_TIMEOUT_S = 240.0
STOP_TIMEOUT_S = 120.0
SIGNALS = [signal.SIGINT, signal.SIGTERM]
_BAR = re.compile(r"\d+%\||\d+/\d+ \[")  # a tqdm progress-bar render


class Running:
    """A ``tracknet`` subprocess whose stdout and stderr are read as they come."""

    def __init__(self, args: list[str], cwd: Path, *, own_group: bool = False) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=own_group,
        )
        self.own_group = own_group
        self._buffers = {"out": bytearray(), "err": bytearray()}
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._drain, args=(stream, key), daemon=True)
            for stream, key in ((self.proc.stdout, "out"), (self.proc.stderr, "err"))
        ]
        for thread in self._threads:
            thread.start()
        self.signal_offset = 0

    def _drain(self, stream: object, key: str) -> None:
        fd = stream.fileno()  # type: ignore[attr-defined]
        while chunk := os.read(fd, 65536):
            with self._lock:
                self._buffers[key].extend(chunk)

    def text(self, key: str = "err", start: int = 0) -> str:
        with self._lock:
            return self._buffers[key][start:].decode("utf-8", errors="replace")

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        """Poll ``condition`` until it holds; fail if the command ends first."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while not condition():
            if self.proc.poll() is not None:
                pytest.fail(f"the command ended before {what}:\n{self.text()[-3000:]}")
            if time.monotonic() > deadline:
                self.proc.kill()
                pytest.fail(f"no {what} within {START_TIMEOUT_S} s:\n{self.text()[-3000:]}")
            time.sleep(0.02)

    def interrupt(self, signum: int) -> int:
        """Send ``signum`` (to the command's process group when it has its own, as a
        terminal's Ctrl+C does); return the exit status once the command has stopped."""
        with self._lock:
            self.signal_offset = len(self._buffers["err"])
        if self.own_group:
            os.killpg(self.proc.pid, signum)
        else:
            self.proc.send_signal(signum)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"still running {STOP_TIMEOUT_S} s after the signal")
        for thread in self._threads:
            thread.join(timeout=10)
        return code

    def assert_interrupted(self, code: int, signum: int, *fragments: str) -> str:
        """Exit 128 + signal; after the signal, stderr has one line (progress-bar renders
        aside) and it says ``interrupted``; no traceback. Returns that line."""
        err = self.text()
        assert code == 128 + signum, err[-3000:]
        assert "Traceback" not in err + self.text("out"), err[-3000:]
        after = [
            line
            for line in re.split(r"[\r\n]", self.text(start=self.signal_offset))
            if line.strip() and not _BAR.search(line)
        ]
        assert len(after) == 1, err[-3000:]
        last = [line for line in re.split(r"[\r\n]", err) if line.strip()][-1]
        assert last == after[0] and last.startswith("interrupted"), err[-3000:]
        for fragment in fragments:
            assert fragment in last, last
        return last


def tracknet(*args: str) -> list[str]:
    return ["-m", "tracknet", *args]


def leftovers(root: Path) -> list[Path]:
    """Temporary files or directories (``*.tmp`` or hidden) anywhere under ``root``."""
    return [p for p in root.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".")]


def staging_has_files(parent: Path, name: str) -> Callable[[], bool]:
    """True once the temporary sibling of ``parent / name`` holds a file."""

    def check() -> bool:
        try:
            return any(
                any(p.is_file() for p in d.iterdir())
                for d in parent.glob(f".{name}.*.tmp")
                if d.is_dir()
            )
        except FileNotFoundError:  # renamed or removed meanwhile
            return False

    return check


def digests(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


def bar_past_first_step(run: Running, total: int) -> Callable[[], bool]:
    pattern = re.compile(rf"\b([1-9]\d*)/{total} \[")
    return lambda: pattern.search(run.text()) is not None


# --------------------------------------------------------------------------- in-process


def test_a_signal_during_the_renames_waits_for_the_last_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracknet.io.atomic as atomic

    renamed: list[str] = []

    def replace(source: Path, target: Path) -> None:
        if not renamed:
            os.kill(os.getpid(), signal.SIGTERM)  # arrives between the two renames
            time.sleep(0.05)
        os.rename(source, target)
        renamed.append(Path(target).name)

    monkeypatch.setattr(atomic.os, "replace", replace)
    targets = [tmp_path / "sub.csv", tmp_path / "sub.build.json"]
    with raising_signals(), pytest.raises(Interrupted) as info:
        with atomic_paths(targets) as temps:
            for tmp, text in zip(temps, ("rows", "record"), strict=True):
                tmp.write_text(text)
        pytest.fail("not interrupted")  # pragma: no cover
    assert info.value.signum == signal.SIGTERM and info.value.exit_code == 143
    assert renamed == ["sub.csv", "sub.build.json"]  # both, then the interrupt
    assert [t.read_text() for t in targets] == ["rows", "record"] and leftovers(tmp_path) == []


def test_a_second_signal_does_not_cut_the_cleanup_short(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGINT)
    with raising_signals(), pytest.raises(Interrupted) as info:
        try:
            # The outer block says nothing (None): the inner block's outcome stands.
            with on_interrupt(lambda: None), on_interrupt("inner"):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)  # pragma: no cover - the signal ends the sleep
        finally:
            os.kill(os.getpid(), signal.SIGINT)  # ignored while the first one unwinds
            time.sleep(0.05)
            (tmp_path / "cleaned").write_text("yes")
    assert info.value.exit_code == 130 and info.value.message() == "interrupted: inner"
    assert (tmp_path / "cleaned").is_file()
    assert signal.getsignal(signal.SIGINT) is before


def test_an_interrupt_waits_for_the_programs_own_code() -> None:
    """Not raised inside the standard library (a lock taken there would stay taken)."""
    event = threading.Event()
    returned: list[bool] = []
    with raising_signals(), pytest.raises(Interrupted) as info:
        threading.Timer(0.05, os.kill, args=(os.getpid(), signal.SIGTERM)).start()
        event.wait(0.5)  # threading.py: the signal comes in here, and waits
        returned.append(True)
        for _ in range(500):
            time.sleep(0.01)  # this test's own code: raised here
        pytest.fail("the interrupt was lost")  # pragma: no cover
    assert returned and info.value.signum == signal.SIGTERM


def test_an_interrupt_swallowed_by_a_finaliser_is_raised_again() -> None:
    class Finalised:
        def __del__(self) -> None:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the handler raises here, and Python swallows it

    with raising_signals(), pytest.raises(Interrupted) as info:
        finalised = Finalised()
        del finalised
        time.sleep(2)  # the signal is sent again and ends the sleep
        pytest.fail("the interrupt was lost")  # pragma: no cover
    assert info.value.signum == signal.SIGTERM


def test_an_error_after_a_swallowed_interrupt_stands_for_it() -> None:
    """Library cleanup that swallows the interrupt and then fails (PyTorch reporting the
    DataLoader workers the same signal stopped) is still the interrupt, at once: not only
    once the watcher has sent the signal again."""
    with raising_signals():
        try:
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.5)  # raised here
                pytest.fail("no interrupt")  # pragma: no cover
            except Interrupted:
                pass  # swallowed, as library cleanup may
            interrupted = interrupt_of(RuntimeError("DataLoader worker exited unexpectedly"))
        except Interrupted as again:  # pragma: no cover - the watcher was faster
            interrupted = again
        assert interrupted is not None and interrupted.signum == signal.SIGTERM
        del interrupted


def test_atomic_directory_replaces_a_previous_run_and_keeps_other_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with atomic_directory(out, record="record.json") as staging:
        (staging / "a").write_text("1")
        (staging / "b").write_text("2")
        (staging / "record.json").write_text(json.dumps({"sha256": {"a": "", "b": ""}}))
    assert sorted(p.name for p in out.iterdir()) == ["a", "b", "record.json"]
    (out / "notes.txt").write_text("the user's")
    with pytest.raises(RuntimeError), atomic_directory(out, record="record.json") as staging:
        (staging / "a").write_text("new")
        raise RuntimeError("half way")
    assert (out / "a").read_text() == "1" and leftovers(tmp_path) == []
    with atomic_directory(out, record="record.json") as staging:
        (staging / "a").write_text("3")
        (staging / "record.json").write_text(json.dumps({"sha256": {"a": ""}}))
    # b belonged to the previous run (its record named it): gone; the user's file stays.
    assert sorted(p.name for p in out.iterdir()) == ["a", "notes.txt", "record.json"]
    assert (out / "a").read_text() == "3" and leftovers(tmp_path) == []


def test_a_stale_build_record_is_not_trusted(tmp_path: Path) -> None:
    from tracknet.building.directory import build_directory
    from tracknet.evaluation.report import read_build_meta
    from tracknet.io.trackml import write_event

    write_event(make_small_event(event_id=3), tmp_path / "data", parts=["hits"])
    out = tmp_path / "sub.csv"
    build_directory(tmp_path / "data", out, algorithm="baseline", progress=False)
    record = read_build_meta(out)
    assert record["algorithm"] == "baseline"
    assert record["submission_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    out.write_text(out.read_text() + "3,9999,0\n")  # another submission beside the record
    assert read_build_meta(out) == {}


# --------------------------------------------------------------------------- commands


def journal_has_entries(work_dir: Path) -> Callable[[], bool]:
    """True once the journal of a resumable run in ``work_dir`` records a finished event."""
    return lambda: any((work_dir / ".tracknet-run").glob("event*.json"))


def only_the_work_dir(root: Path, work_dir: Path) -> None:
    """Nothing half-written anywhere; the one hidden thing left is the kept work directory."""
    assert [p for p in leftovers(root) if p.name.endswith(".tmp")] == []
    assert {p for p in leftovers(root) if work_dir not in p.parents} == {work_dir}


def finish(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd, check=False
    )
    assert done.returncode == 0, done.stderr
    return done


SIMULATE = ("--events", "60", "--particles", "3000", "--seed", "4")


def interrupt_then_resume(
    args: list[str], tmp_path: Path, out: Path, work: Path, signum: int, *, n_events: int
) -> None:
    """Interrupt ``args`` once an event is journalled in ``work`` (nothing at ``out``, only
    the work directory kept), rerun it to the end: it resumes with at least one event done
    and leaves nothing behind."""
    run = Running(args, tmp_path)
    run.wait_for(journal_has_entries(work), "a finished event in the work directory")
    run.assert_interrupted(run.interrupt(signum), signum, "the same command resumes there")
    assert not out.exists()
    only_the_work_dir(tmp_path, work)
    again = finish(args, tmp_path)
    resumed = re.search(rf"resuming: (\d+) of {n_events} events", again.stderr)
    assert resumed is not None and int(resumed.group(1)) >= 1, again.stderr
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_simulate_trackml_interrupted_resumes_to_the_same_bytes(
    tmp_path: Path, signum: int
) -> None:
    from tracknet.parallel import Workers
    from tracknet.simulation import SimulationConfig
    from tracknet.simulation.run import simulate_to_directory

    out, work = tmp_path / "events", tmp_path / ".events.partial"
    args = tracknet("simulate", "trackml", "--out", str(out), *SIMULATE, "--workers", "2")
    interrupt_then_resume(args, tmp_path, out, work, signum, n_events=60)
    serial = tmp_path / "serial"
    config = SimulationConfig(n_particles=3000)
    simulate_to_directory(config, serial, n_events=60, seed=4, progress=False, workers=Workers(1))
    assert digests(out) == digests(serial)


def test_simulate_trackml_into_a_previous_data_set_leaves_it_as_it_was(tmp_path: Path) -> None:
    from tracknet.simulation import SimulationConfig
    from tracknet.simulation.run import simulate_to_directory

    out, work = tmp_path / "events", tmp_path / ".events.partial"
    simulate_to_directory(SimulationConfig(n_particles=50), out, n_events=2, seed=1, progress=False)
    before = digests(out)
    run = Running(tracknet("simulate", "trackml", "--out", str(out), *SIMULATE), tmp_path)
    run.wait_for(journal_has_entries(work), "a finished event in the work directory")
    run.assert_interrupted(run.interrupt(signal.SIGTERM), signal.SIGTERM, "left as it was")
    assert digests(out) == before
    only_the_work_dir(tmp_path, work)


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_simulate_straw_leaves_everything_or_nothing(tmp_path: Path, signum: int) -> None:
    out = tmp_path / "straw"
    args = ["--out", str(out), "--events", "2000000", "--events-per-chunk", "1000"]
    run = Running(tracknet("simulate", "straw", *args), tmp_path)
    run.wait_for(staging_has_files(tmp_path, "straw"), "a chunk in the temporary directory")
    run.assert_interrupted(run.interrupt(signum), signum, f"nothing written to {out}")
    assert not out.exists() and leftovers(tmp_path) == []


def test_simulate_straw_into_a_previous_data_set_leaves_it_as_it_was(tmp_path: Path) -> None:
    """The old manifest and chunk 0 stay until the new data set is complete."""
    out = tmp_path / "straw"
    first = tracknet("simulate", "straw", "--out", str(out), "--events", "30", "--seed", "2")
    done = subprocess.run([sys.executable, *first], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    before = digests(out)
    args = ["--out", str(out), "--events", "2000000", "--events-per-chunk", "1000"]
    run = Running(tracknet("simulate", "straw", *args), tmp_path)
    run.wait_for(staging_has_files(tmp_path, "straw"), "a chunk in the temporary directory")
    run.assert_interrupted(run.interrupt(signal.SIGINT), signal.SIGINT, "left as it was")
    assert digests(out) == before and leftovers(tmp_path) == []


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_overlay_interrupted_resumes_to_the_same_bytes(tmp_path: Path, signum: int) -> None:
    from tracknet.augment.run import overlay_to_directory
    from tracknet.parallel import Workers
    from tracknet.simulation import SimulationConfig
    from tracknet.simulation.run import simulate_to_directory

    source = tmp_path / "source"
    simulate_to_directory(
        SimulationConfig(n_particles=300), source, n_events=2, seed=3, progress=False
    )
    out, work = tmp_path / "overlay", tmp_path / ".overlay.partial"
    mix = ["--source", str(source), "--out", str(out), "--events", "600"]
    args = tracknet("overlay", *mix, "--tracks-per-event", "3", "--workers", "2")
    interrupt_then_resume(args, tmp_path, out, work, signum, n_events=600)
    serial = tmp_path / "serial"
    overlay_to_directory(
        source, serial, n_events=600, tracks_per_event=3, seed=0, workers=Workers(1)
    )
    assert digests(out) == digests(serial)


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_build_interrupted_writes_neither_and_resumes_to_the_same_bytes(
    tmp_path: Path, signum: int
) -> None:
    from tracknet.evaluation.report import build_meta_path, read_build_meta
    from tracknet.simulation import SimulationConfig
    from tracknet.simulation.run import simulate_to_directory

    data = tmp_path / "data"
    n_events = 40
    simulate_to_directory(
        SimulationConfig(n_particles=1500), data, n_events=n_events, seed=5, progress=False
    )
    from tracknet.building.directory import build_directory
    from tracknet.parallel import Workers

    out = tmp_path / "sub" / "baseline.csv"
    work = tmp_path / "sub" / ".baseline.csv.partial"
    out.parent.mkdir()  # an output file's folder must exist
    previous = None
    if signum == signal.SIGTERM:  # over an earlier build: both of its files stay, still a pair
        build_directory(data, out, algorithm="baseline", events=[1], progress=False)
        previous = (out.read_bytes(), build_meta_path(out).read_bytes())
    args = tracknet(
        "build", "--data-dir", str(data), "--out", str(out), "--algorithm", "baseline",
        "--workers", "2",
    )  # fmt: skip
    run = Running(args, tmp_path)
    run.wait_for(journal_has_entries(work), "a built event")
    run.assert_interrupted(run.interrupt(signum), signum, f"nothing written to {out}")
    only_the_work_dir(tmp_path, work)
    if previous is None:
        assert [p.name for p in out.parent.iterdir()] == [work.name]
    else:
        assert (out.read_bytes(), build_meta_path(out).read_bytes()) == previous
        assert read_build_meta(out)["n_events"] == 1
    again = finish(args, tmp_path)
    assert re.search(rf"resuming: [1-9]\d* of {n_events} events", again.stderr), again.stderr
    assert leftovers(tmp_path) == []
    serial = tmp_path / "sub" / "serial.csv"
    build_directory(data, serial, algorithm="baseline", progress=False, workers=Workers(1))
    assert out.read_bytes() == serial.read_bytes()
    assert read_build_meta(out)["n_events"] == n_events


@pytest.mark.parametrize(
    ("signum", "workers"),
    [(signal.SIGINT, 0), (signal.SIGTERM, 2)],
    ids=["SIGINT", "SIGTERM-to-the-group-with-DataLoader-workers"],
)
def test_train_keeps_only_whole_checkpoints_and_says_how_to_resume(
    tmp_path: Path, signum: int, workers: int
) -> None:
    from tracknet.model.checkpoint import load_checkpoint

    run_dir = tmp_path / "run"
    overrides = tiny_overrides(tmp_path, "trainer.max_epochs=100000", f"data.num_workers={workers}")
    # With workers the whole process group gets the signal: PyTorch's workers die of it,
    # which the parent reports as an error of its own while Lightning shuts them down.
    run = Running(tracknet("train", *overrides), tmp_path, own_group=workers > 0)
    run.wait_for(lambda: any(run_dir.rglob("*.ckpt")), "a checkpoint")
    line = run.assert_interrupted(
        run.interrupt(signum), signum, "last complete checkpoint", "training.resume_from="
    )
    resume = Path(line.split("training.resume_from=", 1)[1].strip())
    assert resume.is_file() and resume.is_relative_to(run_dir)
    assert resume.parent.name == "checkpoints" and resume.parent.parent.name == "version_0"
    for checkpoint in run_dir.rglob("*.ckpt"):
        load_checkpoint(checkpoint)  # each one whole
    assert not list(run_dir.rglob("results.json"))  # the run is not reported as finished
    assert "interrupted" in (run_dir / "train.log").read_text()
    assert leftovers(tmp_path) == []


_DEMO = (
    "import json, sys; import tracknet.demo as demo; "
    "demo.DEMO_TRAIN_OVERRIDES = tuple(json.loads(sys.argv[1])); "
    "from tracknet.cli import main; main(sys.argv[2:])"
)


def _demo(out: Path, cwd: Path) -> list[str]:
    """The ``demo`` command with the tiny training recipe, one test event."""
    args = ["demo", "--out", str(out), "--test-events", "1"]
    return ["-c", _DEMO, json.dumps(TINY_TRAINING), *args]


def _finish(args: list[str], cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_demo_interrupted_after_training_reuses_it_on_rerun(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    run = Running(_demo(out, tmp_path), tmp_path)
    run.wait_for(lambda: (out / "stages" / "2-simulate.json").is_file(), "two finished stages")
    line = run.assert_interrupted(
        run.interrupt(signal.SIGINT), signal.SIGINT, str(out), "1 (train)", "rerun to resume"
    )
    assert "4 (report)" not in line and not (out / "summary.json").exists()
    # Nothing half-written; a build stopped midway keeps only its work directory to resume.
    assert [p for p in leftovers(tmp_path) if p.name.endswith(".tmp")] == []
    kept = {p for p in leftovers(tmp_path) if not p.parent.name.endswith(".partial")}
    assert kept <= {out / "submissions" / f".{n}.csv.partial" for n in ("tracknet", "baseline")}
    trained = json.loads((out / "stages" / "1-train.json").read_text())

    said = _finish(_demo(out, tmp_path), tmp_path)
    assert "reused: stages/1-train.json and its outputs" in said
    assert json.loads((out / "stages" / "1-train.json").read_text()) == trained
    assert len(list((out / "train").rglob("results.json"))) == 1  # trained once
    assert leftovers(tmp_path) == []

    # The same stages 2-4 uninterrupted, from the same trained model: the same outputs.
    fresh = tmp_path / "fresh"
    for part in ("train", "stages/1-train.json"):
        source, target = out / part, fresh / part
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, target)
    _finish(_demo(fresh, tmp_path), tmp_path)
    summaries = [json.loads((d / "summary.json").read_text()) for d in (out, fresh)]
    assert summaries[0]["algorithms"] == summaries[1]["algorithms"]
    assert digests(out / "test_events") == digests(fresh / "test_events")
    for name in ("tracknet.csv", "baseline.csv"):
        assert (out / "submissions" / name).read_bytes() == (
            fresh / "submissions" / name
        ).read_bytes()
