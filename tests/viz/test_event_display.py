"""The event display: lines split per track, categories counted from the evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import make_small_event, truth_submission
from tracknet.evaluation import ParticleSelection
from tracknet.viz.event_display import event_figure, polylines, write_event_display


def test_polylines_separate_groups_with_nan() -> None:
    hits = pd.DataFrame({"x": [3.0, 1.0, 5.0, 2.0], "y": 0.0, "z": 0.0})
    x, _, _ = polylines(hits, np.array([1, 1, 2, 2]))
    assert np.isnan(x[2]) and x[:2].tolist() == [1.0, 3.0] and x[3:].tolist() == [2.0, 5.0]


def test_categories_of_a_damaged_submission(tmp_path: Path) -> None:
    event = make_small_event(n_particles=4, hits_per_particle=5, n_noise=3)
    sub = truth_submission(event)
    pids = event.truth["particle_id"].to_numpy()
    sub.loc[pids == 1001, "track_id"] = 0  # particle 1001 is missed
    noise = np.flatnonzero(pids == 0)
    sub.loc[noise, "track_id"] = 77  # three noise hits make a fake track
    figure = event_figure(event, sub, ParticleSelection(min_hits=3))
    names = [trace.name for trace in figure.data]
    assert "found (3)" in names and "missed (1)" in names and "fake (1)" in names
    path = write_event_display(event, tmp_path / "display.html", sub)
    page = path.read_text()
    assert "Plotly.newPlot" in page and '<script src="http' not in page  # self-contained
