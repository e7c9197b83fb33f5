"""Throughput of the training pipeline: data preparation and training steps (tracks/s).

Prints one JSON line. The data are events simulated like the ``experiment=simulated``
recipe (TrackML barrel, pT >= 0.7 GeV particles), written as TrackML CSV into a
temporary directory, so the figures include real CSV parsing:

* ``prepare_*``: :func:`tracknet.data.cache.prepare_events` from CSV (read, group hits
  into tracks along their trajectories, drop repeated layers, save one ``.npz`` per
  event), then :func:`~tracknet.data.cache.build_dataset` (filter pT >= 0.9 GeV and at
  least 3 hits, split by event, write the memory-mapped arrays), and the cache hit of a
  second run;
* ``train_*``: training steps through the real path, ``lightning.Trainer.fit`` of the
  recipe's :class:`~tracknet.training.module.StepAheadModule` on the recipe's
  :class:`~tracknet.training.datamodule.TrackDataModule` (forward, quantile loss,
  backward, Adam, gradient clipping, the scheduler, logging), validation off. The
  figure is the module's own ``train/tracks_per_s`` of the last epoch (tracks trained
  divided by the epoch's wall time, data loading included), per ``torch.set_num_threads``
  setting.

``reference_original_tracks_per_s`` is the figure the issue states for the original
TrackNET code on this machine (about 190 tracks/s); that code is not run here (it cannot
be downloaded in this environment), so there is no side-by-side measurement.

Usage: ``python benchmarks/bench_train.py [--events 12] [--epochs 2] [--threads 1,2]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from _common import emit
from tracknet.data.cache import build_dataset, dataset_key, prepare_events, split_events
from tracknet.data.normalize import Normalizer
from tracknet.io.trackml import list_events, parse_event_id
from tracknet.model.checkpoint import checkpoint_hparams
from tracknet.model.step_ahead import StepAheadTrackNet
from tracknet.simulation.run import simulate_to_directory
from tracknet.training.config import compose_config, to_container
from tracknet.training.datamodule import TrackDataModule
from tracknet.training.module import StepAheadModule
from tracknet.training.settings import DataSettings, TrainingSettings, simulation_config

REFERENCE_ORIGINAL_TRACKS_PER_S = 190


def train_throughput(
    config: dict, events_dir: Path, cache: Path, threads: int, epochs: int
) -> dict:
    import lightning as L

    data = dict(config["data"], dir=str(events_dir), cache_dir=str(cache))
    settings = DataSettings.from_config(data)
    datamodule = TrackDataModule(settings, progress=False)
    model = StepAheadTrackNet.from_config(config["model"])
    training = TrainingSettings.from_config(config["training"])
    module = StepAheadModule(
        tracknet=checkpoint_hparams(model, Normalizer(settings.scale_mm)),
        training={**training.to_dict(), "track_viz": False},
        config=None,
    )
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        trainer = L.Trainer(
            accelerator="cpu",
            max_epochs=epochs,
            limit_val_batches=0,
            num_sanity_val_steps=0,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            gradient_clip_val=config["trainer"]["gradient_clip_val"],
            use_distributed_sampler=False,
        )
        start = time.perf_counter()
        trainer.fit(module, datamodule=datamodule)
        total = time.perf_counter() - start
    finally:
        torch.set_num_threads(before)
    n_tracks = datamodule.train_tracks.n_tracks if datamodule.train_tracks else 0
    return {
        "tracks_per_s": float(trainer.callback_metrics["train/tracks_per_s"]),
        "fit_seconds_incl_startup": round(total, 2),
        "tracks_per_epoch": n_tracks,
        "mean_hits_per_track": round(float(datamodule.train_tracks.lengths.mean()), 2)
        if n_tracks
        else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", default="1,2")
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")

    config = to_container(compose_config(["experiment=simulated"]))
    sim = config["data"]["simulation"]
    with tempfile.TemporaryDirectory(prefix="tracknet-bench-") as tmp_name:
        tmp = Path(tmp_name)
        events_dir = tmp / "events"
        start = time.perf_counter()
        simulate_to_directory(
            simulation_config(sim["config"]),
            events_dir,
            n_events=args.events,
            seed=int(sim["seed"]),
            progress=False,
        )
        simulate_s = time.perf_counter() - start

        data = DataSettings.from_config(dict(config["data"], dir=str(events_dir)))
        prefixes = list_events(events_dir)
        ids = [parse_event_id(p) for p in prefixes]
        start = time.perf_counter()
        prepared = prepare_events(tmp / "cache", prefixes, data.prep)
        prepare_s = time.perf_counter() - start
        from tracknet.data import TrackSet

        n_prepared = sum(TrackSet.load(p).n_tracks for p in prepared)
        start = time.perf_counter()
        prepare_events(tmp / "cache", prefixes, data.prep)
        cached_s = time.perf_counter() - start
        _, val_ids = split_events(ids, data.val_fraction, data.min_val_events, data.split_seed)
        normalizer = Normalizer(data.scale_mm)
        key = dataset_key(prepared, val_ids, data.track_filter, data.dims, normalizer)
        start = time.perf_counter()
        build_dataset(
            tmp / "cache" / "datasets" / key,
            prepared,
            ids,
            val_ids,
            data.track_filter,
            data.dims,
            normalizer,
        )
        build_s = time.perf_counter() - start

        figures: dict = {
            "events": args.events,
            "simulate_seconds": round(simulate_s, 2),
            "prepare_tracks": n_prepared,
            "prepare_from_csv_seconds": round(prepare_s, 3),
            "prepare_from_csv_tracks_per_s": round(n_prepared / prepare_s),
            "prepare_cached_tracks_per_s": round(n_prepared / cached_s),
            "build_dataset_tracks_per_s": round(n_prepared / build_s),
        }
        for threads in (int(t) for t in args.threads.split(",")):
            result = train_throughput(config, events_dir, tmp / "cache", threads, args.epochs)
            figures[f"train_tracks_per_s_threads{threads}"] = round(result["tracks_per_s"])
            figures["train_tracks_per_epoch"] = result["tracks_per_epoch"]
            figures["train_mean_hits_per_track"] = result["mean_hits_per_track"]
            figures[f"train_fit_seconds_threads{threads}"] = result["fit_seconds_incl_startup"]
        figures.update(
            {
                "train_batch_size": config["data"]["batch_size"],
                "model": {k: config["model"][k] for k in ("hidden_size", "num_layers", "features")},
                "torch": torch.__version__,
                "cpu_load_1min": round(os.getloadavg()[0], 2),
                "reference_original_tracks_per_s": REFERENCE_ORIGINAL_TRACKS_PER_S,
                "reference_note": (
                    "stated in issue 5 for the original TrackNET code on this machine; "
                    "not re-measured here"
                ),
            }
        )
    emit("train", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
