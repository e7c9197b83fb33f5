"""Training throughput (tracks/s) of the original StepAhead TrackNET code and of ours, side by side.

Both run on the same labelled barrel events (``ez-0.1`` and ``ez-0.2`` of
``event1000-barrel``), on CPU with ``torch.set_num_threads(--threads)``, one after the
other, and the script prints ONE JSON line::

    {"benchmark": "train_vs_original", "ours_tracks_per_s": ..., "original_tracks_per_s": ...,
     "speedup": ..., "ours_prepare_tracks_per_s": ..., "original_prepare_tracks_per_s": ...,
     "settings": {...}, "details": {...}}

The original (https://github.com/t3hseus/tracknet, a checkout at ``--original DIR``,
default ``$TRACKNET_ORIGINAL_DIR`` or ``/tmp/original_tracknet``) runs in a subprocess
with its own ``sys.path`` (both projects have a package called ``tracknet``; the
original imports itself as ``src.tracknet``). Nothing of it is copied here: the
subprocess composes the original's own Hydra config (``configs/train.yaml``) with the
data directories overridden, builds the loaders with the original ``train.py``'s
``setup_training`` and trains its ``TrackNETModule`` with a ``pytorch_lightning.Trainer``
built with the same arguments as its ``train()`` (TensorBoard logger and ModelCheckpoint
written to a temporary directory), plus a timing callback. Throughput counts the tracks
that reach ``training_step`` per second over ``--epochs`` epochs after ``--warmup-epochs``
(data loading included, as the original's IterableDataset re-reads the CSV files every
epoch). With its configured ``num_workers: 4`` every worker iterates the whole
IterableDataset, so each epoch trains on every track 4 times; those are counted as
processed tracks (``details.original_train.tracks_per_epoch`` shows it). Unless
``--no-extra``, ``details.original_extra`` adds the same Trainer with ``num_workers=0``
and a plain loop without Lightning (its dataset, collate, model, loss, Adam, clipping).
Its data preparation figure is one full pass over its ``TrackMLTracksDataset`` (CSV
reading, grouping into ``Track`` objects, transforms, filters) in one process.

Glue (not part of either project):

* when the original's TrackML utility library (``trackml``, normally a git clone in
  ``src/trackml-library``) cannot be imported, a pandas-only ``trackml.dataset.load_event``
  is written to the temporary directory and put on the subprocess's path;
* the events are symlinked as ``data/trackml/ez-0.1`` and ``data/trackml/ez-0.2`` in the
  temporary directory (the original globs ``event*-hits.csv`` in each data directory);
  the blacklist directory is set to null (these events have no blacklists).

Ours uses the original config's selection (min hits, min pT, first layers, drop repeated
layers), its batch size, the same hidden size (both defaults are 32), the same number
of epochs, and Adam with gradient-norm clipping at the original's ``gradient_clip_val``.
What is timed is the plain PyTorch step (our ``make_dataloader``, forward,
``step_ahead_loss``, backward, clip, Adam step; tracks prepared in memory beforehand),
median of ``--repeats`` runs since one run is short. ``settings.ours_path`` also says
whether ``tracknet.training`` (our Lightning module, being written when this script
was) exists; it is not used yet. Our preparation figure is read CSV + ``event_tracks``
+ ``drop_repeated_layers`` + ``TrackFilter`` + ``TrackDataset``.

The machine may be shared: ``settings.load_average_1m`` is recorded before each side.
With two threads on a loaded two-core machine the PyTorch (OpenMP) threads of a small
model stall each other, so ``details`` also gives our figure at one thread.

Usage::

    python benchmarks/bench_vs_original.py [--original DIR] [--data DIR] [--epochs 5]
        [--warmup-epochs 1] [--threads 2] [--repeats 11] [--no-extra]

If the original directory is absent it prints a skip message to stderr and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT / ".." / "shared" / "data" / "trackml" / "event1000-barrel"
DEFAULT_ORIGINAL = "/tmp/original_tracknet"
SUBSETS = ("ez-0.1", "ez-0.2")
RESULT_TAG = "BENCH_VS_ORIGINAL_RESULT "

# --------------------------------------------------------------------------- glue
# A pandas-only stand-in for the one function of the TrackML utility library that the
# original code calls. Written by us for this benchmark; dtypes follow the TrackML
# file format (64-bit ids, 32-bit floats and small integers).
TRACKML_SHIM = {
    "__init__.py": '"""Benchmark stand-in for the TrackML utility library (load_event only)."""\n'
    "BENCHMARK_SHIM = True\n",
    "dataset.py": '''"""pandas-only stand-in for ``trackml.dataset.load_event`` (benchmark glue)."""
import os

import pandas as pd

PARTS = ("hits", "cells", "particles", "truth")
DTYPES = {
    "hits": {"hit_id": "i8", "x": "f4", "y": "f4", "z": "f4",
             "volume_id": "i4", "layer_id": "i4", "module_id": "i4"},
    "cells": {"hit_id": "i8", "ch0": "i4", "ch1": "i4", "value": "f4"},
    "particles": {"particle_id": "i8", "vx": "f4", "vy": "f4", "vz": "f4",
                  "px": "f4", "py": "f4", "pz": "f4", "q": "i4", "nhits": "i4"},
    "truth": {"hit_id": "i8", "particle_id": "i8", "tx": "f4", "ty": "f4", "tz": "f4",
              "tpx": "f4", "tpy": "f4", "tpz": "f4", "weight": "f4"},
}


def load_event(prefix, parts=PARTS, skip=None, nrows=None):
    """One DataFrame per requested part, read from ``{prefix}-{part}.csv[.gz]``."""
    prefix = os.fspath(prefix)
    frames = []
    for part in parts:
        path = prefix + "-" + part + ".csv"
        if not os.path.exists(path) and os.path.exists(path + ".gz"):
            path += ".gz"
        header = pd.read_csv(path, nrows=0).columns
        dtype = {k: v for k, v in DTYPES.get(part, {}).items() if k in header}
        frames.append(pd.read_csv(path, header=0, index_col=False, dtype=dtype,
                                  skiprows=skip and range(1, skip + 1), nrows=nrows))
    return frames
''',
}


def write_trackml_shim(directory: Path) -> Path:
    """Write the ``trackml`` stand-in package under ``directory``; returns ``directory``."""
    package = directory / "trackml"
    package.mkdir(parents=True, exist_ok=True)
    for name, text in TRACKML_SHIM.items():
        (package / name).write_text(text)
    return directory


def link_events(data: Path, workdir: Path) -> list[Path]:
    """Symlink each subset as ``workdir/data/trackml/<subset>``; returns those directories."""
    base = workdir / "data" / "trackml"
    base.mkdir(parents=True, exist_ok=True)
    dirs = []
    for subset in SUBSETS:
        link = base / subset
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to((data / subset).resolve(), target_is_directory=True)
        dirs.append(link)
    return dirs


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


# --------------------------------------------------------------------------- original (child)
def run_original_child(params: dict[str, Any]) -> dict[str, Any]:
    """Runs inside the subprocess: measure the original code. Never imports our package."""
    import importlib.util

    original = Path(params["original"]).resolve()
    workdir = Path(params["workdir"])
    sys.path.insert(0, str(original))
    library = original / "src" / "trackml-library"
    if library.is_dir():
        sys.path.insert(0, str(library))
    if importlib.util.find_spec("trackml") is None:
        sys.path.insert(0, str(write_trackml_shim(workdir / "shim")))
    import trackml.dataset  # noqa: F401  (the original imports it at module level)

    trackml_module = sys.modules["trackml"]
    trackml_source = (
        "benchmark shim (pandas read_csv)"
        if getattr(trackml_module, "BENCHMARK_SHIM", False)
        else "trackml-library"
    ) + f" at {Path(trackml_module.__file__).parent}"

    import torch

    torch.set_num_threads(params["threads"])
    import pytorch_lightning as pl
    import train as original_train  # the original train.py (setup_training)
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from pytorch_lightning.callbacks import Callback, ModelCheckpoint
    from pytorch_lightning.loggers import TensorBoardLogger
    from src.tracknet.data.collate import collate_fn
    from torch.utils.data import DataLoader

    data_dirs = ",".join(str(d) for d in params["data_dirs"])
    epochs, warmup = params["epochs"], params["warmup_epochs"]
    overrides = [
        f"data.train_dirs=[{data_dirs}]",
        "data.blacklist_dir=null",
        f"logging.output_dir={workdir / 'logs'}",
        f"training.max_epochs={warmup + epochs}",
    ]
    with initialize_config_dir(config_dir=str(original / "configs"), version_base=None):
        cfg = compose(config_name="train", overrides=overrides)
    pl.seed_everything(cfg.training.seed)

    # --- data preparation: one full pass over its dataset, in this process
    dataset = instantiate(cfg.dataset, split="train")
    prepare_times, n_prepared = [], 0
    for _ in range(params["prepare_repeats"]):
        start = time.perf_counter()
        n_prepared = sum(1 for _ in dataset)
        prepare_times.append(time.perf_counter() - start)
    prepare_s = _median(prepare_times)

    class Timer(Callback):
        """Wall time of the training epochs after the warm-up, and the tracks they saw."""

        def __init__(self) -> None:
            self.seconds = 0.0
            self.tracks = 0
            self.steps = 0
            self.tracks_per_epoch: list[int] = []
            self._start = 0.0
            self._epoch_tracks = 0

        def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
            self._epoch_tracks = 0
            self._start = time.perf_counter()

        def on_train_batch_end(
            self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            self._epoch_tracks += int(batch["inputs"].size(0))
            if trainer.current_epoch >= warmup:
                self.steps += 1

        def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
            self.tracks_per_epoch.append(self._epoch_tracks)
            if trainer.current_epoch >= warmup:
                self.seconds += time.perf_counter() - self._start
                self.tracks += self._epoch_tracks

    def lightning_run(num_workers: int | None) -> dict[str, Any]:
        """Its TrackNETModule + Trainer, set up as its train.py does (num_workers None: config)."""
        pl.seed_everything(cfg.training.seed)
        if num_workers is None:
            components = original_train.setup_training(cfg)
            workers = int(cfg.training.num_workers)
        else:  # persistent_workers needs workers, so build the loaders here
            workers = num_workers
            components = {
                "train_loader": DataLoader(
                    instantiate(cfg.dataset, split="train"),
                    batch_size=cfg.training.batch_size,
                    num_workers=workers,
                    collate_fn=collate_fn,
                ),
                "val_loader": DataLoader(
                    instantiate(cfg.dataset, split="validation"),
                    batch_size=cfg.training.batch_size,
                    num_workers=workers,
                    collate_fn=collate_fn,
                ),
                "model": instantiate(cfg.model),
            }
        tb_logger = TensorBoardLogger(
            save_dir=str(workdir / "logs" / f"workers{workers}"), name=cfg.experiment.name
        )
        checkpoint_callback = ModelCheckpoint(
            dirpath=os.path.join(tb_logger.log_dir, "checkpoints"),
            filename="{epoch}-{val_loss:.2f}",
            monitor="val_loss",
            save_top_k=3,
            mode="min",
        )
        timer = Timer()
        trainer = pl.Trainer(
            max_epochs=cfg.training.max_epochs,
            accelerator="auto",
            devices=1,
            logger=tb_logger,
            callbacks=[checkpoint_callback, timer],
            accumulate_grad_batches=cfg.training.accumulate_grad_batches,
            gradient_clip_val=cfg.training.gradient_clip_val,
            limit_train_batches=cfg.training.limit_train_batches,
        )
        start = time.perf_counter()
        trainer.fit(
            model=components["model"],
            train_dataloaders=components["train_loader"],
            val_dataloaders=components["val_loader"],
            ckpt_path=cfg.training.resume_from,
        )
        total = time.perf_counter() - start
        return {
            "num_workers": workers,
            "tracks_per_s": timer.tracks / timer.seconds,
            "measured_tracks": timer.tracks,
            "measured_steps": timer.steps,
            "measured_seconds": round(timer.seconds, 3),
            "tracks_per_epoch": timer.tracks_per_epoch,
            "fit_seconds_total": round(total, 3),
        }

    def plain_loop() -> dict[str, Any]:
        """The same pieces without Lightning: its dataset, collate, model, loss, Adam, clip."""
        pl.seed_everything(cfg.training.seed)
        module = instantiate(cfg.model)
        model, loss_fn = module.model, module.loss_fn
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.model.learning_rate)
        loader = DataLoader(
            instantiate(cfg.dataset, split="train"),
            batch_size=cfg.training.batch_size,
            num_workers=0,
            collate_fn=collate_fn,
        )
        model.train()
        seconds, tracks = 0.0, 0
        for epoch in range(warmup + epochs):
            start, n = time.perf_counter(), 0
            for batch in loader:
                output = model(batch["inputs"], batch["input_lengths"])
                loss = loss_fn(output, batch["targets"], batch["target_mask"])
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.training.gradient_clip_val)
                optimizer.step()
                n += int(batch["inputs"].size(0))
            if epoch >= warmup:
                seconds += time.perf_counter() - start
                tracks += n
        return {"num_workers": 0, "tracks_per_s": tracks / seconds, "measured_tracks": tracks}

    main_run = lightning_run(None)
    extra: dict[str, Any] = {}
    if params["extra"]:
        extra["lightning_num_workers_0"] = lightning_run(0)
        extra["plain_loop_num_workers_0"] = plain_loop()

    filters = {}
    for f in cfg.dataset.filters:
        name = f["_target_"].rsplit(".", 1)[-1]
        filters[name] = {k: v for k, v in f.items() if k != "_target_"}
    return {
        "trackml": trackml_source,
        "prepare_tracks": n_prepared,
        "prepare_seconds": prepare_s,
        "prepare_tracks_per_s": n_prepared / prepare_s,
        "train": main_run,
        "extra": extra,
        "config": {
            "batch_size": int(cfg.training.batch_size),
            "num_workers": int(cfg.training.num_workers),
            "hidden_features": int(cfg.model.hidden_features),
            "learning_rate": float(cfg.model.learning_rate),
            "loss_alpha": float(cfg.model.loss_alpha),
            "gradient_clip_val": float(cfg.training.gradient_clip_val),
            "validation_split": float(cfg.dataset.validation_split),
            "min_hits": int(filters["MinHitsFilter"]["min_hits"]),
            "min_pt": float(filters["PtFilter"]["min_pt"]),
            "first_layers": [
                [int(v) for v in pair] for pair in filters["FirstLayerFilter"]["valid_first_layers"]
            ],
            "transforms": [t["_target_"].rsplit(".", 1)[-1] for t in cfg.dataset.transforms],
        },
        "versions": {"torch": torch.__version__, "pytorch_lightning": pl.__version__},
    }


def measure_original(
    args: argparse.Namespace, workdir: Path, data_dirs: list[Path]
) -> dict[str, Any]:
    params = {
        "original": str(args.original),
        "workdir": str(workdir),
        "data_dirs": [str(d) for d in data_dirs],
        "epochs": args.epochs,
        "warmup_epochs": args.warmup_epochs,
        "threads": args.threads,
        "prepare_repeats": args.prepare_repeats,
        "extra": not args.no_extra,
    }
    log = workdir / "original_child.log"
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    with open(log, "w") as handle:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child-original", json.dumps(params)],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=handle,
            text=True,
        )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        tail = log.read_text()[-4000:]
        raise RuntimeError(f"the original code failed (exit {proc.returncode}); log tail:\n{tail}")
    return json.loads(lines[-1][len(RESULT_TAG) :])


# --------------------------------------------------------------------------- ours
def prepare_ours(data_dirs: list[Path], cfg: dict[str, Any]):  # type: ignore[no-untyped-def]
    from tracknet.data import (
        Normalizer,
        TrackDataset,
        TrackFilter,
        TrackSet,
        drop_repeated_layers,
        event_tracks,
    )
    from tracknet.io.trackml import list_events, read_event

    selection = TrackFilter(
        min_hits=cfg["min_hits"],
        min_pt=cfg["min_pt"],
        first_layers=tuple(tuple(p) for p in cfg["first_layers"]),
    )
    drop = "DropRepeatedLayerHits" in cfg["transforms"]
    prefixes = [p for d in data_dirs for p in list_events(d)]

    def prepare() -> TrackDataset:
        sets = []
        for prefix in prefixes:
            tracks = event_tracks(read_event(prefix, parts=("hits", "particles", "truth")))
            if drop:
                tracks = drop_repeated_layers(tracks)
            sets.append(selection.apply(tracks))
        return TrackDataset(TrackSet.concatenate(sets), Normalizer())

    return prepare


def ours_lightning_module():  # type: ignore[no-untyped-def]
    """Our LightningModule class when ``tracknet.training`` provides one, else None."""
    try:
        import tracknet.training as training  # type: ignore[import-not-found]
    except ImportError:
        return None, "tracknet.training is not present"
    import lightning.pytorch as lp

    for name in getattr(training, "__all__", dir(training)):
        obj = getattr(training, name, None)
        if isinstance(obj, type) and issubclass(obj, lp.LightningModule):
            return obj, f"tracknet.training.{name}"
    return (
        None,
        "our plain PyTorch training step (DataLoader, forward, loss, backward, Adam); "
        "the Lightning path is measured by benchmarks/bench_train.py",
    )


def train_ours_plain(
    dataset: Any, cfg: dict[str, Any], args: argparse.Namespace, seed: int
) -> dict[str, Any]:
    import torch

    from tracknet.data import make_dataloader
    from tracknet.model import StepAheadTrackNet, step_ahead_loss

    torch.manual_seed(seed)
    model = StepAheadTrackNet(input_dim=dataset.input_dim, hidden_size=cfg["hidden_features"])
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["learning_rate"])
    loader = make_dataloader(dataset, cfg["batch_size"], seed=seed, num_workers=0)
    model.train()
    seconds, tracks, steps = 0.0, 0, 0
    for epoch in range(args.warmup_epochs + args.epochs):
        loader.sampler.set_epoch(epoch)  # type: ignore[attr-defined]
        start, n, k = time.perf_counter(), 0, 0
        for batch in loader:
            pred = model(batch.inputs, batch.lengths)
            loss, _ = step_ahead_loss(
                pred, batch.targets_t1, batch.targets_t2, batch.mask_t1, batch.mask_t2
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["gradient_clip_val"])
            optimizer.step()
            n += len(batch.lengths)
            k += 1
        if epoch >= args.warmup_epochs:
            seconds += time.perf_counter() - start
            tracks += n
            steps += k
    return {
        "tracks_per_s": tracks / seconds,
        "measured_tracks": tracks,
        "measured_steps": steps,
        "model": model.config(),
    }


def measure_ours(
    args: argparse.Namespace, data_dirs: list[Path], cfg: dict[str, Any]
) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    prepare = prepare_ours(data_dirs, cfg)
    dataset = prepare()  # warm-up
    times = []
    for _ in range(args.prepare_repeats):
        start = time.perf_counter()
        dataset = prepare()
        times.append(time.perf_counter() - start)
    prepare_s = _median(times)
    n_tracks = len(dataset)

    module_cls, why = ours_lightning_module()
    if module_cls is not None:
        why = f"{why} exists but is not measured by this script yet"
    path = f"plain PyTorch step ({why})"
    runs = [train_ours_plain(dataset, cfg, args, seed) for seed in range(args.repeats)]
    rates = [r["tracks_per_s"] for r in runs]
    one_thread: list[float] = []
    if args.threads != 1:
        torch.set_num_threads(1)
        one_thread = [
            train_ours_plain(dataset, cfg, args, seed)["tracks_per_s"]
            for seed in range(args.repeats)
        ]
        torch.set_num_threads(args.threads)
    return {
        "path": path,
        "lightning_module_found": module_cls is not None,
        "prepare_tracks": n_tracks,
        "prepare_seconds": prepare_s,
        "prepare_tracks_per_s": n_tracks / prepare_s,
        "tracks_per_s": _median(rates),
        "tracks_per_s_runs": [round(r, 1) for r in rates],
        "tracks_per_s_1_thread": _median(one_thread) if one_thread else None,
        "measured_tracks_per_run": runs[0]["measured_tracks"],
        "measured_steps_per_run": runs[0]["measured_steps"],
        "model": runs[0]["model"],
        "mean_hits_per_track": round(float(dataset.lengths.mean()), 3),
    }


# --------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--original",
        type=Path,
        default=Path(os.environ.get("TRACKNET_ORIGINAL_DIR", DEFAULT_ORIGINAL)),
        help="checkout of t3hseus/tracknet "
        "(default $TRACKNET_ORIGINAL_DIR or /tmp/original_tracknet)",
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="event1000-barrel directory"
    )
    parser.add_argument("--epochs", type=int, default=5, help="measured epochs (both codes)")
    parser.add_argument("--warmup-epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--repeats", type=int, default=11, help="repeats of our (short) training run"
    )
    parser.add_argument("--prepare-repeats", type=int, default=3)
    parser.add_argument(
        "--no-extra",
        action="store_true",
        help="skip the original's extra runs (Lightning with num_workers=0, plain loop)",
    )
    parser.add_argument("--child-original", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child_original is not None:
        result = run_original_child(json.loads(args.child_original))
        print(RESULT_TAG + json.dumps(result), flush=True)
        return 0

    original = args.original
    if not (original / "train.py").is_file() or not (original / "src" / "tracknet").is_dir():
        print(
            f"skipped: original TrackNET code not found at {original} "
            "(pass --original DIR or set TRACKNET_ORIGINAL_DIR)",
            file=sys.stderr,
        )
        return 0
    missing = [s for s in SUBSETS if not (args.data / s).is_dir()]
    if missing:
        print(f"skipped: {args.data} lacks {missing}", file=sys.stderr)
        return 0

    with tempfile.TemporaryDirectory(prefix="tracknet_vs_original_") as tmp:
        workdir = Path(tmp)
        data_dirs = link_events(args.data, workdir)
        wall = time.perf_counter()
        load_original = os.getloadavg()[0]
        orig = measure_original(args, workdir, data_dirs)
        load_ours = os.getloadavg()[0]
        ours = measure_ours(args, data_dirs, orig["config"])
        wall = time.perf_counter() - wall

    cfg = orig["config"]
    record = {
        "benchmark": "train_vs_original",
        "ours_tracks_per_s": round(ours["tracks_per_s"], 1),
        "original_tracks_per_s": round(orig["train"]["tracks_per_s"], 1),
        "speedup": round(ours["tracks_per_s"] / orig["train"]["tracks_per_s"], 2),
        "ours_prepare_tracks_per_s": round(ours["prepare_tracks_per_s"], 1),
        "original_prepare_tracks_per_s": round(orig["prepare_tracks_per_s"], 1),
        "settings": {
            "events": [f"{s}/event000001000" for s in SUBSETS],
            "data": str(args.data.resolve()),
            "original": str(original.resolve()),
            "device": "cpu",
            "threads": args.threads,
            "cpus": os.cpu_count(),
            "batch_size": cfg["batch_size"],
            "hidden_size": cfg["hidden_features"],
            "learning_rate": cfg["learning_rate"],
            "gradient_clip_norm": cfg["gradient_clip_val"],
            "warmup_epochs": args.warmup_epochs,
            "measured_epochs": args.epochs,
            "selection": {
                "min_hits": cfg["min_hits"],
                "min_pt_gev": cfg["min_pt"],
                "first_layers": cfg["first_layers"],
                "drop_repeated_layers": "DropRepeatedLayerHits" in cfg["transforms"],
            },
            "original_path": "its TrackNETModule + pytorch_lightning.Trainer (train.py arguments), "
            f"loaders from train.py setup_training (num_workers={cfg['num_workers']}, "
            "persistent workers, IterableDataset re-reading the CSVs each epoch)",
            "original_trackml": orig["trackml"],
            "original_loss_alpha": cfg["loss_alpha"],
            "ours_path": ours["path"],
            "ours_loss": "step_ahead_loss (tracknet kind), alpha 0.9",
            "ours_model": ours["model"],
            "ours_repeats": args.repeats,
            "python": platform.python_version(),
            "versions": orig["versions"],
            "load_average_1m": {
                "before_original": round(load_original, 2),
                "before_ours": round(load_ours, 2),
                "at_end": round(os.getloadavg()[0], 2),
            },
            "wall_seconds": round(wall, 1),
        },
        "details": {
            "original_train": orig["train"],
            "original_train_unique_tracks_per_epoch": orig["prepare_tracks"],
            "original_extra": orig["extra"],
            "original_prepare_tracks": orig["prepare_tracks"],
            "original_prepare_seconds": round(orig["prepare_seconds"], 4),
            "ours_prepare_tracks": ours["prepare_tracks"],
            "ours_prepare_seconds": round(ours["prepare_seconds"], 4),
            "ours_tracks_per_s_runs": ours["tracks_per_s_runs"],
            "ours_tracks_per_s_1_thread": None
            if ours["tracks_per_s_1_thread"] is None
            else round(ours["tracks_per_s_1_thread"], 1),
            "ours_measured_tracks_per_run": ours["measured_tracks_per_run"],
            "ours_measured_steps_per_run": ours["measured_steps_per_run"],
            "ours_mean_hits_per_track": ours["mean_hits_per_track"],
        },
    }
    extra = orig["extra"]
    if extra:
        plain = extra["plain_loop_num_workers_0"]["tracks_per_s"]
        record["details"]["speedup_vs_original_plain_loop"] = round(ours["tracks_per_s"] / plain, 2)
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
