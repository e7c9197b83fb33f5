"""The hand-made event of the table-driven tests.

Sixteen hits, four particles and noise; the weights sum to 1::

    hit   particle  weight          particle  hits      weight  pT (GeV)  hits >= 3
    1-4   1 (A)     0.10 each       A         4         0.4     2.0       yes
    5-8   2 (B)     0.05 each       B         4         0.2     0.5       yes
    9-11  3 (C)     0.10 each       C         3         0.3     1.5       yes
    12-13 4 (D)     0.05 each       D         2         0.1     3.0       no
    14-16 0 noise   0               noise     3         0

With the default selection (``min_hits=3``) A, B and C are selected, D is not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["PARTICLES", "TRUTH", "particles_table", "submission", "truth_table"]

A, B, C, D = 1, 2, 3, 4


def truth_table(rows: Sequence[tuple[int, int, float]]) -> pd.DataFrame:
    """A truth table from ``(hit_id, particle_id, weight)`` rows (tz = hit_id)."""
    frame = pd.DataFrame(rows, columns=["hit_id", "particle_id", "weight"])
    frame = frame.astype({"hit_id": "int64", "particle_id": "int64", "weight": "float64"})
    return frame.assign(tz=frame["hit_id"].astype("float64"))


def particles_table(rows: Sequence[tuple[int, float, float]]) -> pd.DataFrame:
    """A particles table from ``(particle_id, pt, pz)`` rows (momentum along x, vertex 0)."""
    frame = pd.DataFrame(rows, columns=["particle_id", "px", "pz"]).astype({"particle_id": "int64"})
    return frame.assign(py=0.0, vx=0.0, vy=0.0, vz=0.0, q=1, nhits=4)


TRUTH = truth_table(
    [(h, A, 0.10) for h in (1, 2, 3, 4)]
    + [(h, B, 0.05) for h in (5, 6, 7, 8)]
    + [(h, C, 0.10) for h in (9, 10, 11)]
    + [(h, D, 0.05) for h in (12, 13)]
    + [(h, 0, 0.0) for h in (14, 15, 16)]
)
PARTICLES = particles_table([(A, 2.0, 0.0), (B, 0.5, 1.0), (C, 1.5, -3.0), (D, 3.0, 0.5)])


def submission(tracks: Mapping[int, Sequence[int]]) -> pd.DataFrame:
    """A submission from ``{track_id: hit ids}``; hits not listed are left out."""
    hit_ids = [h for hits in tracks.values() for h in hits]
    track_ids = [t for t, hits in tracks.items() for _ in hits]
    return pd.DataFrame(
        {
            "event_id": np.zeros(len(hit_ids), dtype=np.int64),
            "hit_id": np.array(hit_ids, dtype=np.int64),
            "track_id": np.array(track_ids, dtype=np.int64),
        }
    )
