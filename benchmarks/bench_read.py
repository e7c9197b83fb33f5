"""Time reading the largest real TrackML event (hits + particles) with a warm disk.

Prints one JSON line. Baseline in the same run: pandas.read_csv with default settings
(no dtype checks), so the ratio is meaningful on a noisy shared machine.
"""

from __future__ import annotations

import sys

import pandas as pd

from _common import SHARED_TRACKML, emit, timed
from tracknet.io.trackml import list_events, part_path, read_event


def main() -> int:
    directory = SHARED_TRACKML / "unlabeled"
    if not directory.is_dir():
        print(f"skipped: {directory} is absent", file=sys.stderr)
        return 0
    sizes = {p: part_path(p, "hits").stat().st_size for p in list_events(directory)}
    prefix = max(sizes, key=sizes.get)
    hits_only, _, event = timed(lambda: read_event(prefix, parts=("hits",)), repeats=7)
    with_particles, _, _ = timed(lambda: read_event(prefix, parts=("hits", "particles")), repeats=7)
    plain, _, _ = timed(lambda: pd.read_csv(part_path(prefix, "hits")), repeats=7)
    emit(
        "read_trackml_event",
        {
            "event": prefix.name,
            "n_hits": event.n_hits,
            "seconds_hits": round(hits_only, 4),
            "seconds_hits_particles": round(with_particles, 4),
            "hits_per_second": round(event.n_hits / hits_only),
            "pandas_read_csv_seconds": round(plain, 4),
            "speedup_vs_pandas_read_csv": round(plain / hits_only, 2),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
