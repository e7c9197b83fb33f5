"""Distributed data parallel over two CPU processes (gloo): every track once per epoch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ..conftest import tiny_overrides

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_two_cpu_processes_see_every_training_track_exactly_once_per_epoch(tmp_path: Path) -> None:
    overrides = tiny_overrides(
        tmp_path,
        "trainer=ddp",
        "trainer.devices=2",
        "trainer.accelerator=cpu",
        "trainer.max_epochs=2",
        "trainer.num_threads=1",
        "training.record_seen_tracks=true",
        "training.track_viz=false",
        "data.batch_size=32",
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO_ROOT / "src"), str(REPO_ROOT), env.get("PYTHONPATH")])
    )
    proc = subprocess.run(
        [sys.executable, "-m", "tracknet.training", "train", "--json", *overrides],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    version = tmp_path / "run" / "logs" / "simulated" / "version_0"
    results = json.loads((version / "results.json").read_text())
    n_train = results["train_tracks"]
    assert n_train > 100 and results["epochs"] == 2
    seen_dir = version / "seen_tracks"
    for epoch in range(2):
        per_rank = [np.load(seen_dir / f"epoch{epoch:03d}-rank{rank}.npy") for rank in range(2)]
        assert all(len(p) > 0 for p in per_rank)
        assert not set(per_rank[0].tolist()) & set(per_rank[1].tolist())  # disjoint shards
        merged = np.sort(np.concatenate(per_rank))
        np.testing.assert_array_equal(merged, np.arange(n_train))  # each track exactly once
    # The two epochs were shuffled differently.
    first = np.load(seen_dir / "epoch000-rank0.npy")
    second = np.load(seen_dir / "epoch001-rank0.npy")
    assert not np.array_equal(first, second)
    # Both ranks wrote into the same run: one version directory, one set of checkpoints.
    assert sorted(p.name for p in (tmp_path / "run" / "logs" / "simulated").iterdir()) == [
        "version_0"
    ]
    assert (version / "checkpoints" / "last.ckpt").is_file()
    assert not list(version.glob("*.ckpt"))
