"""Event display of the 2D straw tracker: matplotlib PNG, written atomically.

* :func:`draw_geometry`: every straw as a circle (U layers blue-grey, V layers
  green-grey), on a given axes;
* :func:`draw_event`: the fired straws filled in the colour of their label (one colour
  per track; noise grey, crosstalk orange, unlabelled black), the drift circle of each
  hit, and each track's true closest-approach points joined in order of ``x``;
* :func:`render_geometry_png`, :func:`render_event_png`: a whole figure to a PNG file.

Figures are built with the Agg canvas directly (no pyplot, no global backend state),
so rendering works on a machine without a display.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import EllipseCollection, LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from tracknet.errors import DataError
from tracknet.events import CROSSTALK_PARTICLE_ID, NOISE_PARTICLE_ID, UNLABELLED_PARTICLE_ID, Event
from tracknet.io.atomic import atomic_path
from tracknet.simulation.straw.geometry import StrawGeometry

__all__ = [
    "LABEL_COLOURS",
    "draw_event",
    "draw_geometry",
    "render_event_png",
    "render_geometry_png",
]

#: Colours of the reserved labels.
LABEL_COLOURS: dict[int, str] = {
    NOISE_PARTICLE_ID: "#7f7f7f",
    CROSSTALK_PARTICLE_ID: "#ff7f0e",
    UNLABELLED_PARTICLE_ID: "#000000",
}
_TRACK_COLOURS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
)
_VIEW_COLOURS = {"U": "#9fb4c7", "V": "#a9c4a0"}


def _circles(
    ax: Axes, x: np.ndarray, y: np.ndarray, radius: np.ndarray | float, **style: object
) -> None:
    size = np.broadcast_to(2.0 * np.asarray(radius, dtype=np.float64), np.shape(x))
    ax.add_collection(
        EllipseCollection(
            size,
            size,
            np.zeros(len(x)),
            units="xy",
            offsets=np.column_stack([x, y]),
            offset_transform=ax.transData,
            **style,
        )
    )


def draw_geometry(ax: Axes, geometry: StrawGeometry) -> None:
    """Draw every straw of ``geometry`` on ``ax`` (equal aspect, limits set)."""
    views = np.tile(np.asarray(geometry.layer_views), geometry.n_modules)
    straw_view = np.repeat(views, geometry.straws_per_layer)
    for view, colour in _VIEW_COLOURS.items():
        sel = straw_view == view
        if sel.any():
            _circles(
                ax,
                geometry.straw_x[sel],
                geometry.straw_y[sel],
                geometry.straw_radius_mm,
                facecolors="none",
                edgecolors=colour,
                linewidths=0.4,
            )
    xlo, xhi = geometry.x_range
    ylo, yhi = geometry.y_range
    pad = 0.03 * (xhi - xlo)
    ax.set_xlim(xlo - pad, xhi + pad)
    ax.set_ylim(ylo - 5.0, yhi + 5.0)
    ax.set_aspect("equal")
    ax.set_xlabel("x (mm), along the modules")
    ax.set_ylabel("y (mm), across the straws")
    ax.legend(
        handles=[
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                markerfacecolor="none",
                markeredgecolor=c,
                label=f"{v} layers",
            )
            for v, c in _VIEW_COLOURS.items()
        ],
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        fontsize="small",
        ncols=2,
        frameon=False,
    )


def _label_colours(pid: np.ndarray) -> np.ndarray:
    tracks = np.unique(pid[pid > 0])
    colours = np.empty(len(pid), dtype=object)
    for label, colour in LABEL_COLOURS.items():
        colours[pid == label] = colour
    index = np.searchsorted(tracks, pid)
    positive = pid > 0
    palette = np.asarray(_TRACK_COLOURS, dtype=object)
    colours[positive] = palette[index[positive] % len(palette)]
    other = (pid <= 0) & ~np.isin(pid, list(LABEL_COLOURS))
    colours[other] = "#bbbbbb"
    return colours


def draw_event(ax: Axes, event: Event, geometry: StrawGeometry, *, show_truth: bool = True) -> None:
    """Draw the geometry and the hits of a straw ``event`` on ``ax``."""
    hits = event.hits
    missing = [c for c in ("x", "y", "drift_mm") if c not in hits.columns]
    if missing:
        raise DataError(f"{event.prefix}: not a straw event (hits lack {missing})")
    draw_geometry(ax, geometry)
    x = hits["x"].to_numpy(dtype=np.float64)
    y = hits["y"].to_numpy(dtype=np.float64)
    drift = hits["drift_mm"].to_numpy(dtype=np.float64)
    pid = (
        event.truth["particle_id"].to_numpy()
        if event.truth is not None
        else np.full(len(x), UNLABELLED_PARTICLE_ID)
    )
    colours = _label_colours(pid)
    _circles(
        ax, x, y, geometry.straw_radius_mm, facecolors=list(colours), edgecolors="none", alpha=0.35
    )
    _circles(ax, x, y, drift, facecolors="none", edgecolors=list(colours), linewidths=0.8)
    handles = []
    if show_truth and event.truth is not None and {"tx", "ty"} <= set(event.truth.columns):
        tx = event.truth["tx"].to_numpy(dtype=np.float64)
        ty = event.truth["ty"].to_numpy(dtype=np.float64)
        tracks = np.unique(pid[pid > 0])
        segments = []
        seg_colours = []
        for track in tracks:  # one line per track, for display only
            sel = np.flatnonzero(pid == track)
            order = sel[np.argsort(tx[sel], kind="stable")]
            segments.append(np.column_stack([tx[order], ty[order]]))
            seg_colours.append(colours[order[0]])
        if segments:
            ax.add_collection(LineCollection(segments, colors=seg_colours, linewidths=0.7))
        for track, colour in zip(tracks[:8], seg_colours[:8], strict=True):
            handles.append(Line2D([], [], color=colour, label=f"track {track}"))
    for label, name in (
        (NOISE_PARTICLE_ID, "noise"),
        (CROSSTALK_PARTICLE_ID, "crosstalk"),
        (UNLABELLED_PARTICLE_ID, "unlabelled"),
    ):
        if np.any(pid == label):
            handles.append(
                Line2D([], [], marker="o", linestyle="", color=LABEL_COLOURS[label], label=name)
            )
    if handles:
        ax.legend(
            handles=handles,
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            fontsize="small",
            ncols=min(len(handles), 6),
            frameon=False,
        )


def _save(fig: Figure, path: str | os.PathLike[str], dpi: int) -> Path:
    out = Path(path)
    if out.is_dir():
        raise DataError("output path is a directory", file=str(out))
    FigureCanvasAgg(fig)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    return out


def _figure(geometry: StrawGeometry) -> tuple[Figure, Axes]:
    xlo, xhi = geometry.x_range
    ylo, yhi = geometry.y_range
    aspect = (yhi - ylo + 10.0) / (1.06 * (xhi - xlo))
    width = 16.0
    fig = Figure(figsize=(width, max(2.5, width * aspect + 1.2)))
    ax = fig.add_subplot(1, 1, 1)
    return fig, ax


def render_geometry_png(
    geometry: StrawGeometry, path: str | os.PathLike[str], *, dpi: int = 150
) -> Path:
    """Write a PNG of the straw geometry alone."""
    fig, ax = _figure(geometry)
    draw_geometry(ax, geometry)
    ax.set_title(
        f"straw tracker: {geometry.n_modules} modules x {geometry.layers_per_module} layers "
        f"({''.join(geometry.layer_views)}) x {geometry.straws_per_layer} straws, "
        f"r = {geometry.straw_radius_mm} mm",
        loc="right",
    )
    fig.tight_layout()
    return _save(fig, path, dpi)


def render_event_png(
    event: Event,
    geometry: StrawGeometry,
    path: str | os.PathLike[str],
    *,
    dpi: int = 150,
    show_truth: bool = True,
) -> Path:
    """Write a PNG of one straw event over its geometry."""
    fig, ax = _figure(geometry)
    draw_event(ax, event, geometry, show_truth=show_truth)
    n_tracks = (
        int(
            np.unique(
                event.truth["particle_id"].to_numpy()[event.truth["particle_id"].to_numpy() > 0]
            ).size
        )
        if event.truth is not None
        else 0
    )
    time = event.meta.get("time_in_fill_us")
    when = f", t = {time:.1f} us" if isinstance(time, (int, float)) else ""
    ax.set_title(
        f"event {event.event_id}: {event.n_hits} hits, {n_tracks} labelled tracks{when}",
        loc="right",
    )
    fig.tight_layout()
    return _save(fig, path, dpi)
