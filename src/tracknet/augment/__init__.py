"""Data augmentation: isolated-track libraries and overlays (synthetic, semi-synthetic).

* :mod:`~tracknet.augment.library`: cut labelled, isolated tracks from a straw dataset
  or from TrackML events with truth (:func:`build_library`, from the source's detector);
* :mod:`~tracknet.augment.overlay`: overlay ``k`` library tracks per event, alone
  (synthetic, optionally "with singles") or on the unlabelled hits of real events
  (semi-synthetic), for straw and TrackML events;
* :mod:`~tracknet.augment.run`: the whole job into a directory
  (:func:`overlay_to_directory`), asking the source's detector for its library and its
  writer (:mod:`~tracknet.augment.writers`); :mod:`~tracknet.augment.commands` is its
  CLI function.
"""

from __future__ import annotations

from tracknet.augment.library import (
    LibraryCriteria,
    TrackLibrary,
    straw_library,
    trackml_library,
)
from tracknet.augment.overlay import (
    PROVENANCE_COLUMNS,
    choose_entries,
    iter_straw_overlay,
    iter_trackml_overlay,
    trackml_overlay_event,
)
from tracknet.augment.run import PROVENANCE_FILE, build_library, overlay_to_directory

__all__ = [
    "PROVENANCE_COLUMNS",
    "PROVENANCE_FILE",
    "LibraryCriteria",
    "TrackLibrary",
    "build_library",
    "choose_entries",
    "iter_straw_overlay",
    "iter_trackml_overlay",
    "overlay_to_directory",
    "straw_library",
    "trackml_library",
    "trackml_overlay_event",
]
