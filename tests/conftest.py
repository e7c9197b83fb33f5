"""Shared fixtures: small events built in code, the real TrackML data when present, one
tiny model trained through ``train(cfg)`` per session, and the isolation of global state
(caches in a temporary directory; per test, the torch RNG seed and thread count)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from tracknet.events import Event

# Commands run their events in this process unless a test asks for workers: a pool per
# small command would cost the suite minutes on two cores (tests/test_parallel.py runs them).
os.environ["TRACKNET_WORKERS"] = "1"
os.environ.pop("TRACKNET_SCHEDULER", None)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_TRACKML = (REPO_ROOT / ".." / "shared" / "data" / "trackml").resolve()


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data/trackml, skipping the test when it is absent (the whole
    directory, or only the file or event asked for)."""
    if not SHARED_TRACKML.is_dir():
        pytest.skip(
            f"real TrackML data not available: {SHARED_TRACKML} is absent"
            " (it sits beside the repo in CI)"
        )
    path = SHARED_TRACKML.joinpath(*parts)
    # An event is asked for by its prefix (.../event000001000), its files by their names.
    if parts and not (path.exists() or any(path.parent.glob(f"{path.name}-*"))):
        pytest.skip(f"real TrackML file not available: {path}")
    return path


@pytest.fixture
def shared_trackml() -> Path:
    return shared_path()


#: Caches that libraries would write under $HOME or the working directory, and where they
#: go during the tests instead (subprocesses of CLI tests inherit them).
CACHE_ENV = {
    "TRACKNET_CACHE_DIR": "tracknet",
    "XDG_CACHE_HOME": "xdg-cache",  # onnxruntime's ~/.cache/Microsoft, and others
    "MPLCONFIGDIR": "matplotlib",
    "HYPOTHESIS_STORAGE_DIRECTORY": "hypothesis",  # not .hypothesis/ in the repository
}
_saved_env: dict[str, str | None] = {}
_cache_root: list[Path] = []


def pytest_configure(config: pytest.Config) -> None:
    """Before collection: caches into a fresh temporary directory, so no test reads or
    writes ``~/.cache`` or the repository tree, and a second run starts as bare as the
    first. Removed again when the session ends."""
    root = Path(tempfile.mkdtemp(prefix="tracknet-tests-"))
    _cache_root.append(root)
    for name, folder in CACHE_ENV.items():
        _saved_env[name] = os.environ.get(name)
        os.environ[name] = str(root / folder)
    try:
        from hypothesis.configuration import set_hypothesis_home_dir
    except ImportError:  # pragma: no cover - hypothesis is a test dependency
        return
    set_hypothesis_home_dir(root / CACHE_ENV["HYPOTHESIS_STORAGE_DIRECTORY"])


#: How long the test process may take to exit once the session has ended, seconds: past
#: it every thread's stack is printed and the process ends with status 1, instead of
#: holding CI until its own limit.
EXIT_LIMIT_S = 120


def _end_stray_processes() -> None:
    """Kill the worker processes a test left running (each would be joined at exit, and
    the manager thread of their pool with them), saying so; name any live thread that
    exit would wait for."""
    import multiprocessing
    import sys
    import threading

    for process in multiprocessing.active_children():
        print(
            f"tests left process {process.name} (pid {process.pid}) running: killed",
            file=sys.stderr,
        )
        process.kill()
        process.join(timeout=5)
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon and thread.is_alive():
            print(f"tests left thread {thread.name} running", file=sys.stderr)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    import faulthandler
    import sys

    _end_stray_processes()
    faulthandler.dump_traceback_later(EXIT_LIMIT_S, exit=True, file=sys.__stderr__)
    for name, value in _saved_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _saved_env.clear()
    while _cache_root:
        shutil.rmtree(_cache_root.pop(), ignore_errors=True)


#: What the repository's top folder may gain while tests run (tools' caches, the venv).
_ROOT_ALLOWED = {".pytest_cache", ".venv", ".mypy_cache", ".ruff_cache", ".hypothesis"}


@pytest.fixture(autouse=True)
def _repository_untouched() -> Iterator[None]:
    """No test writes into the repository's top folder (an output path such as ``nan`` or
    ``-1`` given to a command resolves against the working directory)."""
    before = set(os.listdir(REPO_ROOT))
    yield
    added = set(os.listdir(REPO_ROOT)) - before - _ROOT_ALLOWED
    assert not added, f"the test wrote into the repository: {sorted(added)}"


@pytest.fixture(autouse=True)
def _torch_state() -> Iterator[None]:
    """Each test starts from the same torch RNG seed and leaves the thread count as it
    found it (``train`` and ``tracknet build --threads`` set it process-wide)."""
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


#: Overrides of a ``train(cfg)`` run that takes seconds: the simulated barrel recipe on
#: three small events, a one-layer model of hidden size 8, one epoch.
TINY_TRAINING = [
    "experiment=simulated",
    "data.simulation.n_events=3",
    "+data.simulation.config.n_particles=400",
    "data.val_fraction=0.34",
    "data.batch_size=64",
    "model.hidden_size=8",
    "model.num_layers=1",
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "trainer.num_sanity_val_steps=0",
    "trainer.log_every_n_steps=1",
    "training.track_viz_plotlyjs=cdn",
    "training.region_calibration.enabled=false",
]


def tiny_overrides(tmp: Path, *extra: str) -> list[str]:
    """:data:`TINY_TRAINING` with the cache and the run directory under ``tmp``."""
    return [
        *TINY_TRAINING,
        f"data.cache_dir={tmp / 'cache'}",
        f"run.output_dir={tmp / 'run'}",
        *extra,
    ]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One tiny ``train(cfg)`` run per session (with the per-region calibration and a t1
    cap): its temporary directory (cache under ``cache/``, run under ``run/``) and results.

    Tests may read it and train further runs beside it (other ``run.output_dir``), never
    change it; they assert loose figures of it, never exact tracks of one training run.
    """
    from tracknet.training.config import compose_config
    from tracknet.training.train import train

    tmp = tmp_path_factory.mktemp("tiny_run")
    cfg = compose_config(
        tiny_overrides(
            tmp,
            "training.calibration.t1_max_radius_mm=400",
            "training.region_calibration.enabled=true",
            "training.region_calibration.cost_source=validation",
        )
    )
    threads = torch.get_num_threads()
    try:
        return tmp, train(cfg)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_run: tuple[Path, dict[str, Any]]) -> Path:
    """The best checkpoint of :func:`tiny_run`."""
    return Path(tiny_run[1]["best_checkpoint"])


def make_small_event(
    event_id: int = 7, n_particles: int = 4, hits_per_particle: int = 5, n_noise: int = 3
) -> Event:
    """A tiny labelled event on straight radial tracks, built by hand."""
    rng = np.random.default_rng(123)
    rows = []
    truth = []
    hit_id = 1
    particles = []
    for p in range(n_particles):
        pid = 1000 + p
        phi = 2 * np.pi * p / n_particles
        particles.append(
            (pid, 0.0, 0.0, 0.0, 2.0 * np.cos(phi), 2.0 * np.sin(phi), 0.5, 1, hits_per_particle)
        )
        for k in range(hits_per_particle):
            r = 32.0 + 40.0 * k
            x, y, z = r * np.cos(phi), r * np.sin(phi), 0.25 * r
            rows.append((hit_id, x, y, z, 8, 2 + 2 * k, 1 + p))
            truth.append((hit_id, pid, x, y, z, 2.0 * np.cos(phi), 2.0 * np.sin(phi), 0.5, 0.0))
            hit_id += 1
    for _ in range(n_noise):
        x, y, z = rng.uniform(-100, 100, 3)
        rows.append((hit_id, x, y, z, 8, 2, 99))
        truth.append((hit_id, 0, x, y, z, 0.0, 0.0, 0.0, 0.0))
        hit_id += 1
    hits = pd.DataFrame(
        rows, columns=["hit_id", "x", "y", "z", "volume_id", "layer_id", "module_id"]
    )
    hits = hits.astype(
        {"hit_id": "int64", "volume_id": "int32", "layer_id": "int32", "module_id": "int32"}
    )
    truth_df = pd.DataFrame(
        truth, columns=["hit_id", "particle_id", "tx", "ty", "tz", "tpx", "tpy", "tpz", "weight"]
    )
    labelled = truth_df["particle_id"] > 0
    truth_df.loc[labelled, "weight"] = 1.0 / labelled.sum()
    parts = pd.DataFrame(
        particles, columns=["particle_id", "vx", "vy", "vz", "px", "py", "pz", "q", "nhits"]
    )
    parts = parts.astype({"particle_id": "int64", "q": "int32", "nhits": "int32"})
    return Event(event_id=event_id, hits=hits, truth=truth_df, particles=parts)


@pytest.fixture
def small_event() -> Event:
    return make_small_event()


def truth_submission(event: Event) -> pd.DataFrame:
    """Every labelled hit on the track of its particle; noise on no track (id 0)."""
    pids = event.particle_ids()
    _, track = np.unique(pids, return_inverse=True)
    return pd.DataFrame(
        {
            "event_id": np.full(len(pids), event.event_id, dtype=np.int64),
            "hit_id": event.hits["hit_id"].to_numpy(),
            "track_id": np.where(pids > 0, track + 1, 0).astype(np.int64),
        }
    )


def split_submission(event: Event) -> pd.DataFrame:
    """Each particle's hits cut into two tracks at the middle of their order along z-distance."""
    truth = event.truth
    assert truth is not None
    sub = truth_submission(event)
    vz = event.particles.set_index("particle_id")["vz"] if event.particles is not None else None
    dist = np.abs(
        truth["tz"].to_numpy()
        - (vz.reindex(truth["particle_id"]).fillna(0.0).to_numpy() if vz is not None else 0.0)
    )
    order = np.lexsort((dist, sub["track_id"].to_numpy()))
    tracks = sub["track_id"].to_numpy()[order]
    start = np.r_[0, np.flatnonzero(np.diff(tracks)) + 1]
    counts = np.diff(np.r_[start, len(tracks)])
    rank = np.arange(len(tracks)) - np.repeat(start, counts)
    second_half = rank >= np.repeat(counts, counts) // 2
    new = tracks * 2 + second_half.astype(np.int64)
    out = sub.copy()
    track_ids = np.empty_like(tracks)
    track_ids[order] = np.where(tracks > 0, new, 0)
    out["track_id"] = track_ids
    return out
