"""Track building: from an event's hits to the TrackML submission ``event_id, hit_id, track_id``.

Per event and seeding stage: seeds (:mod:`.seeding`), batched extension by StepAhead
TrackNET or the helix baseline (:mod:`.builder`, :mod:`.baseline`), selection
(:mod:`.selection`). :func:`build_directory` drives every detector through its
:class:`~tracknet.building.backend.BuildBackend`; straw events are built by :mod:`.straw`.

See docs/architecture.md (layout) and docs/extension.md (the algorithm).
"""

from __future__ import annotations

import importlib
from typing import Any

# Public names and the module that defines each; imported on first use, so that
# ``tracknet build --help`` (and the CLI as a whole) does not pay for torch at start-up.
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("ALGORITHMS", "BuildConfig"), "settings"),
    **dict.fromkeys(("BuildResult", "build_event", "build_tracks", "make_extender"), "pipeline"),
    **dict.fromkeys(("DirectoryBuild", "build_directory", "parse_event_list"), "directory"),
    "HelixExtender": "baseline",
    **dict.fromkeys(
        (
            "Candidates",
            "ExtensionConfig",
            "Extender",
            "Spheres",
            "TrackNetExtender",
            "extend_seeds",
        ),
        "builder",
    ),
    **dict.fromkeys(("calibrate_radius_scale", "normalised_distances"), "calibration"),
    **dict.fromkeys(("Envelope", "LayerSurfaces", "layer_keys"), "geometry"),
    **dict.fromkeys(("HitIndex", "Neighbours"), "search"),
    **dict.fromkeys(
        ("DEFAULT_SEED_STAGES", "SeedStage", "curvature_from_pt", "find_seeds"), "seeding"
    ),
    **dict.fromkeys(("Selection", "SelectionConfig", "select_tracks"), "selection"),
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tracknet.building' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tracknet.building.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ALGORITHMS",
    "DEFAULT_SEED_STAGES",
    "BuildConfig",
    "BuildResult",
    "Candidates",
    "DirectoryBuild",
    "Envelope",
    "Extender",
    "ExtensionConfig",
    "HelixExtender",
    "HitIndex",
    "LayerSurfaces",
    "Neighbours",
    "SeedStage",
    "Selection",
    "SelectionConfig",
    "Spheres",
    "TrackNetExtender",
    "build_directory",
    "build_event",
    "build_tracks",
    "calibrate_radius_scale",
    "curvature_from_pt",
    "extend_seeds",
    "find_seeds",
    "layer_keys",
    "make_extender",
    "normalised_distances",
    "parse_event_list",
    "select_tracks",
]
