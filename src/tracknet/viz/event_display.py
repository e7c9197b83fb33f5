"""Interactive 3D event display (plotly HTML): found, missed and fake tracks.

With a submission, every track and particle of the event is classified by the evaluation
(:func:`tracknet.evaluation.match_tracks`): *found* (the track that double-majority
matches a selected particle), *missed* (a selected particle no track finds, drawn through
its true hits), *fake* (a track whose majority particle holds at most half of its hits),
*other* (the rest: duplicates and tracks of particles outside the selection). Without a
submission, the true particles of the selection are drawn. Noise and unassigned hits are
small grey points. Tracks are drawn as lines through their hits ordered by distance from
the beam line, which is right for display, not for physics.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tracknet.errors import DataError
from tracknet.evaluation.matching import ParticleSelection, match_tracks
from tracknet.events import Event
from tracknet.io.atomic import atomic_path

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["CATEGORY_COLOURS", "event_figure", "polylines", "write_event_display"]

CATEGORY_COLOURS: dict[str, str] = {
    "found": "#2ca02c",
    "missed": "#d62728",
    "fake": "#ff7f0e",
    "other": "#1f77b4",
    "particles": "#1f77b4",
}


def polylines(hits: pd.DataFrame, group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y, z arrays of all groups' lines, separated by NaN (one plotly trace for all).

    Within a group, points are ordered by their distance from the origin.
    """
    if len(group) == 0:
        empty = np.empty(0)
        return empty, empty, empty
    xyz = hits[["x", "y", "z"]].to_numpy(dtype=np.float64)
    distance = np.sqrt((xyz**2).sum(axis=1))
    order = np.lexsort((distance, group))
    xyz = xyz[order]
    boundaries = np.flatnonzero(np.diff(group[order])) + 1
    with_gaps = np.insert(xyz, boundaries, np.nan, axis=0)
    return with_gaps[:, 0], with_gaps[:, 1], with_gaps[:, 2]


def event_figure(
    event: Event,
    submission: pd.DataFrame | None = None,
    selection: ParticleSelection | None = None,
    *,
    min_track_hits: int = 3,
) -> go.Figure:
    """The plotly figure of ``event`` (see the module docstring)."""
    import plotly.graph_objects as go

    selection = selection or ParticleSelection()
    hits = event.hits
    fig = go.Figure()
    counts: dict[str, int] = {}
    line_hits = np.zeros(len(hits), dtype=bool)

    def add_lines(name: str, mask: np.ndarray, group: np.ndarray) -> None:
        x, y, z = polylines(hits.loc[mask], group[mask])
        counts[name] = len(np.unique(group[mask]))
        line_hits[mask] = True
        fig.add_trace(
            go.Scatter3d(
                x=x,
                y=y,
                z=z,
                mode="lines+markers",
                name=f"{name} ({counts[name]})",
                line={"color": CATEGORY_COLOURS[name], "width": 3},
                marker={"size": 2, "color": CATEGORY_COLOURS[name]},
            )
        )

    if submission is not None:
        if event.truth is None:
            raise DataError(f"{event.prefix}: a display with a submission needs the event's truth")
        sub = submission[["hit_id", "track_id"]]
        result = match_tracks(
            event.truth, sub, event.particles, selection, min_track_hits=min_track_hits
        )
        track_of_hit = (
            pd.Series(sub["track_id"].to_numpy(), index=sub["hit_id"].to_numpy())
            .reindex(hits["hit_id"].to_numpy())
            .fillna(0)
            .to_numpy(dtype=np.int64)
        )
        tracks = result.per_track
        found_tracks = tracks.loc[
            tracks["double_majority"] & tracks["majority_selected"], "track_id"
        ].to_numpy()
        fake_tracks = tracks.loc[tracks["fake"], "track_id"].to_numpy()
        long_tracks = tracks.loc[tracks["long_enough"], "track_id"].to_numpy()
        other_tracks = np.setdiff1d(long_tracks, np.union1d(found_tracks, fake_tracks))
        for name, ids in (("found", found_tracks), ("fake", fake_tracks), ("other", other_tracks)):
            add_lines(name, np.isin(track_of_hit, ids) & (track_of_hit > 0), track_of_hit)
        per_particle = result.per_particle
        missed = per_particle.loc[
            per_particle["selected"] & ~per_particle["found"], "particle_id"
        ].to_numpy()
        pids = event.truth["particle_id"].to_numpy()
        add_lines("missed", np.isin(pids, missed), pids)
        title = f"{event.prefix}: found, missed and fake tracks"
    else:
        if event.truth is None:
            title = f"{event.prefix}: hits (no truth)"
        else:
            pids = event.truth["particle_id"].to_numpy()
            # The per-particle table of an empty submission says which particles are selected.
            empty = pd.DataFrame(
                {"hit_id": np.empty(0, dtype=np.int64), "track_id": np.empty(0, dtype=np.int64)}
            )
            chosen = match_tracks(event.truth, empty, event.particles, selection).per_particle
            chosen = chosen.loc[chosen["selected"], "particle_id"].to_numpy()
            add_lines("particles", np.isin(pids, chosen), pids)
            title = f"{event.prefix}: selected true particles"
    rest = hits.loc[~line_hits]
    fig.add_trace(
        go.Scatter3d(
            x=rest["x"],
            y=rest["y"],
            z=rest["z"],
            mode="markers",
            name=f"other hits ({len(rest)})",
            marker={"size": 1, "color": "#9a9a9a", "opacity": 0.4},
        )
    )
    fig.update_layout(
        title=title,
        scene={
            "xaxis_title": "x [mm]",
            "yaxis_title": "y [mm]",
            "zaxis_title": "z [mm]",
            "aspectmode": "data",
        },
        legend={"itemsizing": "constant"},
        margin={"l": 0, "r": 0, "t": 40, "b": 0},
    )
    return fig


def write_event_display(
    event: Event,
    out: str | os.PathLike[str],
    submission: pd.DataFrame | None = None,
    selection: ParticleSelection | None = None,
) -> Path:
    """Write the display as one self-contained HTML file (no network needed to view it)."""
    path = Path(out)
    if path.is_dir():
        raise DataError("output path is a directory", file=str(path))
    figure = event_figure(event, submission, selection)
    with atomic_path(path) as tmp:
        figure.write_html(str(tmp), include_plotlyjs=True, full_html=True)
    return path
