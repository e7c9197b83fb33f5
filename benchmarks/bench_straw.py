"""Time straw-tracker event generation on one core (target: 10,000 events/s).

Prints one JSON line: events per second of the flat generation (``simulate_straw_batch``,
default detector, mean 2 tracks per event), of generation plus writing the Parquet
dataset, and of turning events into :class:`tracknet.events.Event` objects.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _common import emit, pin_to_one_core, timed
from tracknet.io.straw import write_straw_dataset
from tracknet.simulation.straw import StrawConfig, iter_straw_batches, simulate_straw_batch

N_EVENTS = 20_480


def main() -> int:
    pinned = pin_to_one_core()
    config = StrawConfig()
    seconds, _, batch = timed(lambda: simulate_straw_batch(config, N_EVENTS, seed=1), repeats=5)
    with tempfile.TemporaryDirectory() as tmp:
        write_seconds, _, _ = timed(
            lambda: write_straw_dataset(
                iter_straw_batches(config, N_EVENTS, 1, events_per_batch=10_000),
                Path(tmp) / "straw",
                kind="straw",
                parameters={"config": config.to_dict()},
                seed=1,
                generator="bench",
            ),
            repeats=3,
        )
        size = sum(p.stat().st_size for p in (Path(tmp) / "straw").iterdir())
    small = batch.slice(0, 2_000)
    event_seconds, _, _ = timed(lambda: small.to_events(), repeats=3)
    emit(
        "straw_simulation",
        {
            "pinned_to_one_core": pinned,
            "n_events": N_EVENTS,
            "hits_per_event": round(batch.n_hits / len(batch), 2),
            "tracks_per_event": round(float(batch.events["n_tracks"].mean()), 3),
            "events_per_second": round(N_EVENTS / seconds),
            "events_per_second_with_parquet": round(N_EVENTS / write_seconds),
            "bytes_per_event_on_disk": round(size / N_EVENTS),
            "event_objects_per_second": round(len(small) / event_seconds),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
