"""Where the TrackML score's weight goes: the score itself, the hits its found particles
lost, and the particles it did not find, by origin and pT (``docs/metrics.md``)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Final

import numpy as np
import pandas as pd

from tracknet.errors import DataError
from tracknet.evaluation._tables import (
    directory_submission,
    int_column,
    require_columns,
    submission_tracks,
    unique_ids,
)
from tracknet.evaluation.evaluate import event_truth
from tracknet.evaluation.matching import DEFAULT_PRIMARY_MAX_ABS_VZ_MM, DEFAULT_PRIMARY_MAX_VR_MM
from tracknet.evaluation.score import hit_weights_for_scoring, majority_table
from tracknet.events import NOISE_PARTICLE_ID, UNASSIGNED_TRACK_ID, particle_kinematics

__all__ = [
    "LOSS_PT_EDGES_GEV",
    "SCORE_LOSS_KEYS",
    "SCORE_LOSS_LABELS",
    "mean_losses",
    "score_losses",
    "score_losses_directory",
]

#: The pT bands (GeV) of the particles not found: below the first edge, between, above.
LOSS_PT_EDGES_GEV: Final = (0.5, 1.0)
_BANDS: Final = ("pt_below_0.5", "pt_0.5_to_1", "pt_from_1")

#: The parts of the score's weight, in order; they add up to 1 for every event.
SCORE_LOSS_KEYS: Final[tuple[str, ...]] = (
    "scored",
    "found_hits_on_no_track",
    "found_hits_on_other_tracks",
    *(f"unfound_primaries_{band}" for band in _BANDS),
    *(f"unfound_secondaries_{band}" for band in _BANDS),
    "noise",
)
_ORIGIN_BANDS: Final = {
    f"unfound_{origin}_{band}": f"{origin} not found, pT {text}"
    for origin in ("primaries", "secondaries")
    for band, text in zip(_BANDS, ("< 0.5 GeV", "0.5-1 GeV", ">= 1 GeV"), strict=True)
}
#: Human labels of :data:`SCORE_LOSS_KEYS`.
SCORE_LOSS_LABELS: Final[dict[str, str]] = {
    "scored": "scored (the TrackML score)",
    "found_hits_on_no_track": "hits of found particles on no track",
    "found_hits_on_other_tracks": "hits of found particles on other tracks",
    **_ORIGIN_BANDS,
    "noise": "noise and unlabelled hits",
}


def score_losses(
    truth: pd.DataFrame,
    submission: pd.DataFrame,
    particles: pd.DataFrame,
    *,
    use_computed_weights: bool = False,
) -> dict[str, float]:
    """The share of the event's total score weight in each part of
    :data:`SCORE_LOSS_KEYS`.

    ``scored`` is the TrackML score. A particle is found when a track holds it as in the
    score (more than half of the track's hits and of the particle's; as there, the hits
    of ``track_id`` 0 count as one track); its other hits lie on no track (``track_id``
    0, or not in the submission) or on other tracks. The hits of the particles not found
    go by their origin (primary: vertex within the evaluation's primary region) and pT.
    ``noise``: the weight of noise and unlabelled hits (zero under the published weights).
    """
    require_columns(truth, ("hit_id", "particle_id"), "truth")
    require_columns(particles, ("particle_id", "px", "py", "vx", "vy", "vz"), "particles")
    hit_index = unique_ids(int_column(truth, "hit_id", "truth"), "hit_id", "truth")
    particle_id = int_column(truth, "particle_id", "truth")
    weight = hit_weights_for_scoring(
        truth, particles=particles, use_computed_weights=use_computed_weights
    )
    track_id, submitted = submission_tracks(hit_index, submission)
    total = math.fsum(weight)
    if total <= 0.0:
        raise DataError("truth: the event's hits carry no score weight", column="weight")

    # The track of each found particle, as the score finds it (track 0 is a track there).
    tracks = majority_table(particle_id[submitted], track_id[submitted])
    ids, sizes = np.unique(particle_id, return_counts=True)
    majority = tracks["particle_id"].to_numpy()
    n_majority = tracks["n_majority"].to_numpy()
    good = (2 * n_majority > tracks["n_hits"].to_numpy()) & (
        2 * n_majority > sizes[np.searchsorted(ids, majority)]
    )
    track_of = pd.Series(tracks["track_id"].to_numpy()[good], index=majority[good])
    own = track_of.reindex(particle_id).to_numpy(dtype=np.float64)  # NaN: not found
    found = np.isfinite(own) & (particle_id > NOISE_PARTICLE_ID)
    on_track = submitted & (track_id != UNASSIGNED_TRACK_ID)
    scored = found & submitted & (track_id == own)

    noise = particle_id <= NOISE_PARTICLE_ID  # noise, and unlabelled real hits (< 0)
    parts = {
        "scored": scored,
        "found_hits_on_no_track": found & ~scored & ~on_track,
        "found_hits_on_other_tracks": found & ~scored & on_track,
        "noise": noise,
    }
    kinematics = particle_kinematics(particles)
    index = unique_ids(
        int_column(particles, "particle_id", "particles"), "particle_id", "particles"
    )
    where = index.get_indexer(pd.Index(particle_id))
    lost = ~found & ~noise
    unknown = lost & (where < 0) & (weight > 0)
    if unknown.any():
        first = int(particle_id[np.flatnonzero(unknown)[0]])
        raise DataError(f"truth: particle {first} is not in the particles table")
    row = np.maximum(where, 0)
    pt = kinematics["pt"].to_numpy()[row]
    primary = (kinematics["vr"].to_numpy()[row] <= DEFAULT_PRIMARY_MAX_VR_MM) & (
        np.abs(particles["vz"].to_numpy(dtype=np.float64)[row]) <= DEFAULT_PRIMARY_MAX_ABS_VZ_MM
    )
    band = np.searchsorted(np.asarray(LOSS_PT_EDGES_GEV), pt, side="right")
    for origin, mask in (("primaries", primary), ("secondaries", ~primary)):
        for k, name in enumerate(_BANDS):
            parts[f"unfound_{origin}_{name}"] = lost & mask & (band == k)
    return {key: math.fsum(weight[parts[key]]) / total for key in SCORE_LOSS_KEYS}


def mean_losses(items: Iterable[dict[str, float]]) -> dict[str, float]:
    """The mean over events of :func:`score_losses` (as the score is a mean of events)."""
    rows = list(items)
    if not rows:
        raise DataError("no events to evaluate")
    return {key: float(np.mean([r[key] for r in rows])) for key in SCORE_LOSS_KEYS}


def score_losses_directory(
    data_dir: str | os.PathLike[str],
    submission: str | os.PathLike[str] | pd.DataFrame,
    *,
    use_computed_weights: bool = False,
) -> dict[str, float]:
    """:func:`score_losses` of every TrackML event of ``data_dir`` that the submission
    names, averaged over the events."""
    from tracknet.io.trackml import list_events, parse_event_id, read_event

    frame, _ = directory_submission(submission)
    named = set(np.unique(frame["event_id"].to_numpy()).tolist())
    by_event = dict(tuple(frame.groupby("event_id", sort=True)))
    results = []
    for prefix in list_events(data_dir):  # a loop over events
        event_id = parse_event_id(prefix)
        if event_id not in named:
            continue
        event = read_event(prefix, parts=("hits", "truth", "particles"))
        if event.particles is None:
            raise DataError(f"{prefix}: score losses need the event's particles")
        results.append(
            score_losses(
                event_truth(event),
                by_event[event_id][["hit_id", "track_id"]],
                event.particles,
                use_computed_weights=use_computed_weights,
            )
        )
    return mean_losses(results)
