"""Evaluate a submission file against a directory of events: the generic entry point.

The submission names its events (``event_id`` column); every named event must be in the
directory and carry truth, and the submission must list every hit of those events once
(``track_id`` 0: on no track), as the TrackML scorer requires. Events of the directory
that it does not name are not evaluated (``DirectoryEvaluation.unnamed_events``).

The directory's detector (:func:`tracknet.detectors.detector_of`) evaluates it:

* a **straw dataset** directory (``tracknet-dataset.json`` of a straw detector) is
  evaluated by :func:`tracknet.evaluation.straw.evaluate_straw_submission`: the summary
  adds the straw metrics (``precision_on_found_tracks``, ``wrong_hit_fraction``,
  ``found_fraction``, ``split_fraction``, ``n_tracks_true``...);
* a directory of TrackML events by
  :func:`tracknet.evaluation.trackml_files.evaluate_trackml_submission`, which switches
  to the semi-synthetic metrics (:mod:`tracknet.evaluation.semisynthetic`: no fake rate)
  when some truth ``particle_id`` equals -1, an unlabelled real hit.
"""

from __future__ import annotations

import os

import pandas as pd

from tracknet.detectors import detector_of
from tracknet.evaluation.evaluate import DirectoryEvaluation
from tracknet.evaluation.matching import DEFAULT_MIN_TRACK_HITS, ParticleSelection
from tracknet.evaluation.trackml_files import track_kinematics
from tracknet.parallel import Workers

__all__ = ["DirectoryEvaluation", "evaluate_submission", "track_kinematics"]


def evaluate_submission(
    data_dir: str | os.PathLike[str],
    submission: str | os.PathLike[str] | pd.DataFrame,
    selection: ParticleSelection | None = None,
    *,
    min_track_hits: int = DEFAULT_MIN_TRACK_HITS,
    use_computed_weights: bool = False,
    workers: Workers | None = None,
    truth_dir: str | os.PathLike[str] | None = None,
) -> DirectoryEvaluation:
    """Evaluate every event of ``data_dir`` that the submission names.

    ``trackml_score`` always follows the published rules (all particles). When the
    selection has a pT cut, ``trackml_score_min_pt`` is added: the score with the weight
    of hits of particles below that pT set to zero (renormalised to the rest).
    ``use_computed_weights`` applies to TrackML events (straw events carry their weights).
    ``workers``: where the events are evaluated (:mod:`tracknet.parallel`; default here).
    ``truth_dir``: the labelled twin of a straw dataset of production events.
    """
    return detector_of(data_dir).evaluate_directory(
        data_dir,
        submission,
        selection,
        min_track_hits=min_track_hits,
        use_computed_weights=use_computed_weights,
        workers=workers,
        truth_dir=truth_dir,
    )
