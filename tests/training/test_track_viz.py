"""The interactive track view: plotly HTML with hits, true next hits and both sphere kinds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tracknet.viz.track_viz import sphere_mesh, track_figure, write_track_html


def test_sphere_mesh_vertices_lie_on_their_spheres() -> None:
    centers = np.array([[0.0, 0.0, 0.0], [10.0, -5.0, 3.0]])
    radii = np.array([1.0, 2.5])
    vertices, faces = sphere_mesh(centers, radii)
    per = len(vertices) // 2
    np.testing.assert_allclose(np.linalg.norm(vertices[:per] - centers[0], axis=1), 1.0)
    np.testing.assert_allclose(np.linalg.norm(vertices[per:] - centers[1], axis=1), 2.5)
    assert faces.min() == 0 and faces.max() == len(vertices) - 1
    # the second sphere's faces index its own vertices only
    assert faces[len(faces) // 2 :].min() >= per


def test_track_view_is_html_with_every_layer(tmp_path: Path) -> None:
    hits = np.array([[32.0, 0.0, 5.0], [72.0, 1.0, 11.0], [116.0, 2.5, 18.0], [172.0, 5.0, 27.0]])
    t1 = hits[1:] + 0.5
    t2 = hits[2:] - 0.5
    fig = track_figure(hits, t1, np.full(3, 3.0), t2, np.full(2, 6.0), title="a track")
    names = [trace.name for trace in fig.data]
    assert names[:2] == ["input hits", "true next hits"]
    assert "t1 spheres (next hit)" in names and "t2 spheres (hit after next)" in names
    path = write_track_html(
        tmp_path / "view.html",
        hits,
        t1,
        np.full(3, 3.0),
        t2,
        np.full(2, 6.0),
        title="a track",
        plotlyjs="cdn",
    )
    text = path.read_text()
    assert "<html>" in text.lower() and "plotly" in text and "a track" in text
    with pytest.raises(ValueError):
        write_track_html(tmp_path / "x.html", hits, t1, np.ones(3), t2, np.ones(2), plotlyjs="png")
