"""Fitting the track-quality score on truth-labelled events (``tracknet quality``).

Builds each event with the given settings (no score applied), labels every track (or,
with ``quality_on`` ``"candidates"``, every candidate that reached a selection) a fake or
not by truth, and fits :func:`~tracknet.building.quality.fit_quality` per algorithm.
See docs/selection-and-fits.md (Track quality).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..evaluation.evaluate import event_truth
from ..evaluation.matching import match_tracks
from ..events import Event
from ..model.checkpoint import LoadedModel
from .pipeline import build_tracks
from .quality import QualityModel, fit_quality
from .settings import BuildConfig, check_algorithm

__all__ = ["QualityFit", "learn_quality"]


@dataclass(frozen=True)
class QualityFit:
    """The fitted scores and, per algorithm, how they sort the tracks they were fitted on
    (``n_tracks``, ``n_fakes``, ``fakes_dropped`` and ``true_tracks_dropped`` at the
    settings' ``max_fake_probability``)."""

    models: tuple[QualityModel, ...]
    n_events: int
    figures: Mapping[str, Mapping[str, float | int]]


def learn_quality(
    events: Iterable[Event],
    algorithms: Sequence[str],
    loaded_model: LoadedModel | None,
    config: BuildConfig,
    *,
    meta: Mapping[str, Any] | None = None,
) -> QualityFit:
    """Build every event with each algorithm, label the tracks or candidates (a fake: no
    particle holds more than half of its hits), and fit one score per algorithm."""
    for name in algorithms:
        check_algorithm(name)
    settings = dataclasses.replace(config, quality_model=None)  # label every track
    tables: dict[str, list[pd.DataFrame]] = {name: [] for name in algorithms}
    fakes: dict[str, list[np.ndarray]] = {name: [] for name in algorithms}
    n_events = 0
    on_candidates = config.quality_on == "candidates"
    for event in events:
        n_events += 1
        truth = event_truth(event)
        for name in algorithms:
            if on_candidates:
                particle = truth.set_index("hit_id")["particle_id"]
                hit_ids = event.hits["hit_id"].to_numpy()
                labels = particle.reindex(hit_ids).fillna(0).to_numpy(np.int64)
                built = build_tracks(event, name, loaded_model, settings, candidate_truth=labels)
                table = built.candidates
                assert table is not None  # asked for with candidate_truth
                tables[name].append(table)
                fakes[name].append(table["fake"].to_numpy(bool))
                continue
            tracks = build_tracks(event, name, loaded_model, settings)
            per_track = match_tracks(truth, tracks.submission, min_track_hits=1).per_track
            matched = per_track.set_index("track_id")["matched"]
            ids = tracks.tracks["track_id"]
            tables[name].append(tracks.tracks)
            fakes[name].append(~matched.reindex(ids).fillna(False).to_numpy(bool))
    if n_events == 0:
        raise DataError("no events to fit a track-quality score on")
    info = {"n_events": n_events, "quality_on": config.quality_on, **dict(meta or {})}
    models = tuple(fit_quality(tables[name], fakes[name], name, meta=info) for name in algorithms)
    figures = {}
    for model in models:
        probability = np.concatenate([model.fake_probability(t) for t in tables[model.algorithm]])
        fake = np.concatenate(fakes[model.algorithm])
        cut = probability > config.max_fake_probability
        figures[model.algorithm] = {
            "n_tracks": len(fake),
            "n_fakes": int(fake.sum()),
            "fakes_dropped": float(cut[fake].mean()),
            "true_tracks_dropped": float(cut[~fake].mean()),
        }
    return QualityFit(models, n_events, figures)
