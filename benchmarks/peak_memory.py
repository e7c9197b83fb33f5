"""Run a command and report the peak resident memory of every process it starts.

Usage: ``python benchmarks/peak_memory.py [--interval S] [-- COMMAND [ARGS...]]``.
Prints one JSON line with the peak (``VmHWM``, MiB) of each process in the command's
tree, largest first, sampled from ``/proc`` (Linux only) while it runs. Without a
command it measures ``tracknet build --workers 2`` (baseline) on 4 and on 12 simulated
full events, to show that a worker's peak does not grow with the number of events.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit

PROC = Path("/proc")


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every live process."""
    kids: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(parent, []).append(int(entry.name))
    return kids


def _tree(root: int) -> list[int]:
    kids = _children()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(kids.get(pid, []))
    return found


def _sample(pid: int) -> tuple[int, str] | None:
    """(peak resident KiB, command line) of one process, None once it is gone."""
    try:
        status = (PROC / str(pid) / "status").read_text()
        command = (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return None
    if "VmHWM:" not in status:
        return None
    peak = int(status.split("VmHWM:")[1].split()[0])
    return peak, command.decode(errors="replace").strip()[:80]


def measure(command: list[str], interval: float) -> dict[str, object]:
    """Run ``command`` to its end; its status, wall time and per-process peaks."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    peaks: dict[int, tuple[int, str]] = {}
    while proc.poll() is None:
        for pid in _tree(proc.pid):
            sample = _sample(pid)
            if sample is not None and sample[0] >= peaks.get(pid, (0, ""))[0]:
                peaks[pid] = sample
        time.sleep(interval)
    rows = [{"peak_mib": kib // 1024, "command": cmd} for kib, cmd in peaks.values()]
    return {
        "command": " ".join(command),
        "returncode": proc.returncode,
        "seconds": round(time.perf_counter() - start, 3),
        "processes": sorted(rows, key=lambda row: -int(row["peak_mib"])),
    }


def _default_runs(interval: float) -> list[dict[str, object]]:
    tracknet = [sys.executable, "-m", "tracknet"]
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-peak-") as tmp:
        data = Path(tmp) / "sim"
        simulate = [*tracknet, "simulate", "trackml", "--events", "12", "--out", str(data)]
        subprocess.run([*simulate, "--no-progress"], check=True, capture_output=True)
        for n in (4, 12):
            events = ",".join(str(k) for k in range(1, n + 1))
            build = [*tracknet, "build", "--data-dir", str(data), "--algorithm", "baseline"]
            build += ["--events", events, "--workers", "2", "--no-progress"]
            runs.append({"events": n, **measure([*build, "--out", f"{tmp}/sub-{n}.csv"], interval)})
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between samples")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not PROC.is_dir():
        parser.error("reads /proc: Linux only")
    runs = [measure(command, args.interval)] if command else _default_runs(args.interval)
    emit("peak_memory", {"runs": runs})
    return max(int(str(run["returncode"])) for run in runs)


if __name__ == "__main__":
    sys.exit(main())
