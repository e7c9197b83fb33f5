"""Track building on straw events (2D): TrackNET or a classical follower, many events at once.

A straw event holds a few tens of hits and a test set thousands of events, so nothing
here works one event at a time: a *chunk* of events (``events_per_batch``) is built in
one pass. Every hit carries its event row; a search only ever looks at hits of the
candidate's own event and layer (sorted keys ``(event, layer, y)``), so one batched
model step and one vectorised search serve the whole chunk without mixing events.

Definitions (units: mm)
    *Global layer* ``l = volume_id * layers_per_module + layer_id`` (0 = the first layer
    a track meets); layer ``l`` is the plane ``x = layer_x[l]`` of the straw geometry
    (from the dataset record). A hit is the fired straw's centre ``(x, y)`` with its drift
    distance ``drift_mm`` ``d``.

Left/right (drift) resolution (``resolve_drift``; default: on for the baseline, and for
a TrackNET model trained on resolved positions, ``data.straw.positions: resolved``)
    A track passing at distance ``d`` from the wire with slope ``t = dy/dx`` crosses the
    layer plane at ``y_wire +- d * sqrt(1 + t^2)``: one of two points (the left/right
    ambiguity), each far more precise than the straw centre (the simulated drift is exact
    by default). Drifts below ``resolve_min_drift_mm`` (default: the model's
    ``data.straw.min_drift_mm``, 0) stay at the wire. Every position below (seeds,
    entries fed to TrackNET, points fitted by the baseline, the track fit) is such a
    crossing; without resolution it is the straw centre and the fits are not used.

Seeding
    Tracks enter before the first module and travel along ``+x``, possibly at an angle.
    A seed is a pair of hits ``(a, b)`` of one event and one module among the first
    ``seed_modules`` modules, ``b`` one to ``seed_max_span`` layers after ``a``, with
    ``|y_b - y_a| <= seed_max_slope * (x_b - x_a) + pitch``. Pairs on non-neighbouring
    layers bridge a layer the track crossed between two straws (about one in five). With
    resolution a seed has up to four *variants*, the side combinations of its two hits
    (slope and sides iterated to agreement; variants steeper than ``seed_max_slope``
    dropped); they share the seed's beam.

Extension: one layer per step
    A candidate stands on a layer ``l`` and looks for its hit on layer ``l + 1``:

    * TrackNET (:class:`StrawTrackNetFollower`): the 2D StepAhead model reads one entry
      per layer crossing (as it was trained, :mod:`tracknet.data.straw_tracks`) and its
      t1 circle (centre, radius times ``radius_scale``; default 3 with resolution, whose
      fits judge the hits, else the checkpoint's) predicts the next crossing; the
      centre is slid along the line from the last entry onto the plane of layer
      ``l + 1`` (the model's step along ``x`` is not trusted, only its direction);
    * baseline (:class:`StrawLineFollower`): a least-squares line (parabola once the hits
      span more than one module) through the candidate's last ``baseline_fit_hits`` hits
      gives ``y`` at the next layer, and the window is
      ``baseline_window_mm + baseline_window_per_mm * (x_next - x_last)``.

    The hits of layer ``l + 1`` inside the circle (window) are the candidate's children:
    with resolution (and ``both_sides``) each side of a hit's drift circle that lies in
    the circle is a child of its own (the beam decides; without ``both_sides`` only the
    side nearest the centre), and a child whose point takes the candidate more than
    ``beam_fit_rms_mm`` (residual RMS per degree of freedom) off the circle fitted
    through its points (:func:`circle_residuals`; from the 4th point on) is refused; the
    nearest ``max_branches`` remain. A child's cost grows by its normalised distance
    ``|point - centre| / radius``, plus ``drift_weight`` times
    ``| |y - y_centre| - drift | / radius`` (off by default).
    When the circle holds no such point, or its nearest lies beyond ``skip_above`` times the
    radius, the candidate also continues *without* a hit on that layer (a hole, cost
    ``miss_penalty``): TrackNET is fed the predicted crossing, the baseline just fits its
    hits. At most ``max_misses`` holes in a row; a candidate without children ends.
    The best ``beam_width`` children of each seed live on, and children that stand on the
    same layer after the same two hits (taken on the same side) are merged (the one with
    more hits, then lower cost, goes on).

    A hole's entry (TrackNET's predicted crossing) is uncertain, but the model reads it as
    a measured point; so until the next hit the radius of each circle is widened to
    ``sqrt(r^2 + sum of the squared radii of the holes since the last hit)``. When the
    next hit is found the model re-reads the holes as in training: from its state after
    the last hit, the missed layers interpolated on the line between the two hits, then
    the new hit.

Selection and clean-up (the last four only with resolution)
    Ended candidates with at least ``min_hits`` hits are fitted: up to ``fit_max_removed``
    points farther than ``fit_trim_mm`` from the circle are taken out, then a candidate
    with a residual RMS above ``max_fit_rms_mm`` is dropped. The rest go through
    :func:`tracknet.building.selection.select_tracks` (longest first, then lowest mean
    cost; a hit is on at most one track). Then, per event:

    * **merge** (:func:`merge_pieces`): two tracks one after the other (no common layer
      range) whose hits lie on one circle within ``merge_rms_mm`` become one;
    * **attach** (:func:`attach_by_fit`): each track is followed layer by layer before its
      first and after its last hit along its fitted circle, taking the free hit whose
      drift circle passes within ``attach_mm`` of the crossing (``max_misses`` empty
      layers in a row end it);
    * **fragments** (:func:`absorb_fragments`): a track of at most ``fragment_max_hits``
      hits, half of which lie within ``attach_mm`` of a longer track's circle, is taken
      apart, those hits joining the longer track where it has none on their layer;
    * tracks with fewer than ``min_track_hits`` hits are dropped.

    Track ids are numbered 1, 2, ... within each event (in quality order), 0 means "on
    no track".

:func:`build_straw_batch` builds a :class:`~tracknet.simulation.straw.StrawBatch`;
:class:`~tracknet.building.straw.backend.StrawBuildBackend` is what the one directory driver
(:func:`tracknet.building.directory.build_directory`, ``tracknet build``) runs for a straw
directory.
"""

from __future__ import annotations

from .batch import build_straw_batch, build_straw_hits
from .beam import extend_straw
from .cleanup import absorb_fragments, attach_by_fit, merge_pieces
from .fits import circle_residuals, circle_y_at, fit_candidates
from .followers import (
    StrawFollower,
    StrawLineFollower,
    StrawTrackNetFollower,
    check_straw_model,
    make_straw_follower,
    resolve_min_drift,
    resolves_drift,
)
from .hits import StrawHits
from .seeding import find_straw_seeds, resolve_seeds
from .settings import RESOLVED_RADIUS_SCALE, StrawBuildConfig

__all__ = [
    "RESOLVED_RADIUS_SCALE",
    "StrawBuildConfig",
    "StrawFollower",
    "StrawHits",
    "StrawLineFollower",
    "StrawTrackNetFollower",
    "absorb_fragments",
    "attach_by_fit",
    "build_straw_batch",
    "build_straw_hits",
    "check_straw_model",
    "circle_residuals",
    "circle_y_at",
    "extend_straw",
    "find_straw_seeds",
    "fit_candidates",
    "make_straw_follower",
    "merge_pieces",
    "resolve_min_drift",
    "resolve_seeds",
    "resolves_drift",
]
