"""Interactive 3D view of one track and its predicted search spheres (plotly, HTML only).

:func:`track_figure` draws a track's hits (mm) joined in order, the true next hit of
every step, and the spheres predicted after each hit for the next hit (t1) and the hit
after next (t2) as translucent meshes, each kind a legend entry that can be toggled.
:func:`write_track_html` writes the figure as a self-contained HTML file (or one that
loads plotly.js from its CDN), atomically. No static image export (it would need a
browser engine).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..io.atomic import atomic_path

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["sphere_mesh", "track_figure", "write_track_html"]

_N_LAT = 10
_N_LON = 16


def _unit_sphere() -> tuple[np.ndarray, np.ndarray]:
    """Vertices ``(V, 3)`` and triangles ``(F, 3)`` of a latitude-longitude unit sphere."""
    lat = np.linspace(0.0, np.pi, _N_LAT + 1)
    lon = np.linspace(0.0, 2.0 * np.pi, _N_LON, endpoint=False)
    theta, phi = np.meshgrid(lat, lon, indexing="ij")
    vertices = np.stack(
        [np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], axis=-1
    ).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(_N_LAT), np.arange(_N_LON), indexing="ij")
    a = i * _N_LON + j
    b = i * _N_LON + (j + 1) % _N_LON
    c = a + _N_LON
    d = b + _N_LON
    faces = np.concatenate([np.stack([a, b, c], -1), np.stack([b, d, c], -1)]).reshape(-1, 3)
    return vertices, faces


def sphere_mesh(centers: np.ndarray, radii: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One triangle mesh of many spheres: vertices ``(n * V, 3)`` and faces ``(n * F, 3)``."""
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, 3)
    radii = np.asarray(radii, dtype=np.float64).reshape(-1)
    vertices, faces = _unit_sphere()
    n = len(centers)
    all_vertices = (centers[:, None, :] + radii[:, None, None] * vertices[None]).reshape(-1, 3)
    shift = (np.arange(n) * len(vertices))[:, None, None]
    all_faces = (faces[None] + shift).reshape(-1, 3)
    return all_vertices, all_faces


def track_figure(
    hits_mm: np.ndarray,
    t1_centers_mm: np.ndarray,
    t1_radii_mm: np.ndarray,
    t2_centers_mm: np.ndarray,
    t2_radii_mm: np.ndarray,
    title: str = "",
) -> go.Figure:
    """The figure of one track with ``n`` hits (mm).

    ``t1_*`` are the ``n - 1`` spheres predicted after hits ``0 .. n-2`` for the next hit,
    ``t2_*`` the ``n - 2`` spheres for the hit after next (fewer rows are drawn as given).
    """
    import plotly.graph_objects as go

    hits = np.asarray(hits_mm, dtype=np.float64).reshape(-1, 3)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter3d(
            x=hits[:, 0],
            y=hits[:, 1],
            z=hits[:, 2],
            mode="lines+markers",
            name="input hits",
            marker={"size": 4, "color": "black"},
            line={"color": "gray"},
            text=[f"hit {i}" for i in range(len(hits))],
        )
    )
    if len(hits) > 1:
        nxt = hits[1:]
        fig.add_trace(
            go.Scatter3d(
                x=nxt[:, 0],
                y=nxt[:, 1],
                z=nxt[:, 2],
                mode="markers",
                name="true next hits",
                marker={"size": 6, "color": "green", "symbol": "diamond"},
                text=[f"true hit {i + 1}" for i in range(len(nxt))],
            )
        )
    for name, centers, radii, color in (
        ("t1 spheres (next hit)", t1_centers_mm, t1_radii_mm, "royalblue"),
        ("t2 spheres (hit after next)", t2_centers_mm, t2_radii_mm, "orange"),
    ):
        centers = np.asarray(centers, dtype=np.float64).reshape(-1, 3)
        radii = np.asarray(radii, dtype=np.float64).reshape(-1)
        if len(centers) == 0:
            continue
        vertices, faces = sphere_mesh(centers, radii)
        fig.add_trace(
            go.Mesh3d(
                x=vertices[:, 0],
                y=vertices[:, 1],
                z=vertices[:, 2],
                i=faces[:, 0],
                j=faces[:, 1],
                k=faces[:, 2],
                color=color,
                opacity=0.25,
                name=name,
                showlegend=True,
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter3d(
                x=centers[:, 0],
                y=centers[:, 1],
                z=centers[:, 2],
                mode="markers",
                name=f"{name.split()[0]} centres",
                marker={"size": 3, "color": color},
                text=[f"after hit {i}: r = {r:.2f} mm" for i, r in enumerate(radii)],
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
        legend={"itemclick": "toggle"},
        margin={"l": 0, "r": 0, "t": 40, "b": 0},
    )
    return fig


def write_track_html(
    path: str | os.PathLike[str],
    hits_mm: np.ndarray,
    t1_centers_mm: np.ndarray,
    t1_radii_mm: np.ndarray,
    t2_centers_mm: np.ndarray,
    t2_radii_mm: np.ndarray,
    title: str = "",
    plotlyjs: str = "inline",
) -> Path:
    """Write :func:`track_figure` as HTML (``plotlyjs``: ``"inline"`` or ``"cdn"``), atomically."""
    if plotlyjs not in ("inline", "cdn"):
        raise ValueError(f"plotlyjs must be 'inline' or 'cdn', got {plotlyjs!r}")
    fig = track_figure(hits_mm, t1_centers_mm, t1_radii_mm, t2_centers_mm, t2_radii_mm, title)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.write_html(
            tmp, include_plotlyjs=True if plotlyjs == "inline" else "cdn", full_html=True
        )
    return path
