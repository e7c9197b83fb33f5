"""A deliberately simple TrackML score, written with dicts and loops for cross-checking.

Nothing here is vectorised or clever: it follows the published rule sentence by sentence
so that it can be read and trusted, and the fast implementation in
:mod:`tracknet.evaluation.score` is tested against it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = ["reference_min_pt_weights", "reference_score"]


def reference_min_pt_weights(
    particle_ids: Sequence[int],
    weights: Sequence[float],
    pt_of_particle: Mapping[int, float],
    min_pt: float,
) -> list[float]:
    """Weights with the hits of particles below ``min_pt`` (or of unknown pT) set to 0."""
    out = []
    for pid, weight in zip(particle_ids, weights, strict=True):
        pt = pt_of_particle.get(pid)
        if pt is None or pt < min_pt:
            out.append(0.0)
        else:
            out.append(float(weight))
    return out


def reference_score(
    hit_ids: Sequence[int],
    particle_ids: Sequence[int],
    weights: Sequence[float],
    submission: Mapping[int, int],
) -> float:
    """TrackML score of ``submission`` (``{hit_id: track_id}``) for one event.

    ``hit_ids``, ``particle_ids`` and ``weights`` describe the truth, one entry per hit.
    """
    particle_of_hit = {}
    weight_of_hit = {}
    for hit, pid, weight in zip(hit_ids, particle_ids, weights, strict=True):
        particle_of_hit[hit] = pid
        weight_of_hit[hit] = float(weight)

    # Number of hits of every particle in the truth.
    particle_size: dict[int, int] = {}
    for pid in particle_ids:
        particle_size[pid] = particle_size.get(pid, 0) + 1

    # Hits of every track (every track id is a track, 0 included).
    hits_of_track: dict[int, list[int]] = {}
    for hit, track in submission.items():
        if hit not in particle_of_hit:
            raise ValueError(f"hit {hit} is not in the truth")
        hits_of_track.setdefault(track, []).append(hit)

    total_weight = math.fsum(weight_of_hit.values())
    if total_weight <= 0:
        return 0.0

    found_weight = []
    for hits in hits_of_track.values():
        count: dict[int, int] = {}
        for hit in hits:
            pid = particle_of_hit[hit]
            count[pid] = count.get(pid, 0) + 1
        # The majority particle: most hits, ties to the smallest id.
        best = None
        for pid in sorted(count):
            if best is None or count[pid] > count[best]:
                best = pid
        n_best = count[best]
        if n_best * 2 > len(hits) and n_best * 2 > particle_size[best]:
            for hit in hits:
                if particle_of_hit[hit] == best:
                    found_weight.append(weight_of_hit[hit])
    return math.fsum(found_weight) / total_weight
