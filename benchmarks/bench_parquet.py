"""Time reading the largest real TrackML event from CSV and from Parquet, in one run.

Prints one JSON line. The event (every part it has) is converted with
``tracknet.io.convert`` into plain CSV and into Parquet in a temporary directory; the
original files (gzipped or not), the plain CSV and the Parquet copy are then read with
``read_event`` (the same checks on every copy), median of several warm runs.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import SHARED_TRACKML, emit, timed
from tracknet.io.convert import convert_events
from tracknet.io.trackml import available_parts, list_events, parse_event_id, part_path, read_event


def _size(prefix: Path) -> int:
    return sum(part_path(prefix, p).stat().st_size for p in available_parts(prefix))


def main() -> int:
    directories = sorted(d for d in SHARED_TRACKML.glob("*") if d.is_dir())
    candidates = [p for d in directories for p in list_events(d)]
    if not candidates:
        print(f"skipped: no events under {SHARED_TRACKML}", file=sys.stderr)
        return 0
    # The largest event (a full event of about 10^5 hits), with every part it has.
    prefix = max(candidates, key=_size)
    parts = available_parts(prefix)
    event_id = [parse_event_id(prefix)]
    with tempfile.TemporaryDirectory() as tmp:
        copies = {"original": prefix}
        for fmt in ("csv", "parquet"):
            convert_events(prefix.parent, Path(tmp) / fmt, fmt=fmt, event_ids=event_id)
            copies[fmt] = Path(tmp) / fmt / prefix.name
        seconds, tables, mib = {}, {}, {}
        for name, copy in copies.items():
            seconds[name], _, tables[name] = timed(lambda c=copy: read_event(c, parts), repeats=7)
            mib[name] = round(_size(copy) / 2**20, 2)
    reference = tables["original"].parts()
    same = all(
        tables[name].parts()[p].equals(frame) for name in copies for p, frame in reference.items()
    )
    emit(
        "read_trackml_parquet",
        {
            "event": f"{prefix.parent.name}/{prefix.name}",
            "parts": list(parts),
            "n_hits": tables["original"].n_hits,
            "original_files": part_path(prefix, "hits").name,
            "seconds": {k: round(v, 4) for k, v in seconds.items()},
            "mib": mib,
            "speedup_parquet_vs_csv": round(seconds["csv"] / seconds["parquet"], 2),
            "speedup_parquet_vs_original": round(seconds["original"] / seconds["parquet"], 2),
            "same_tables": same,
        },
    )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
