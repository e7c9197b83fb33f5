"""The TrackML silicon detector (real TrackML events and the TrackML-like simulator).

Its stage methods: docs/architecture.md (detectors as backends).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .base import Detector

if TYPE_CHECKING:
    import pandas as pd

    from ..augment.library import LibraryCriteria, TrackLibrary
    from ..augment.writers import OverlayJob
    from ..building.backend import BuildBackend
    from ..evaluation.evaluate import DirectoryEvaluation
    from ..evaluation.matching import ParticleSelection
    from ..parallel import Workers

__all__ = ["TrackMLDetector"]


class TrackMLDetector(Detector):
    name = "trackml"
    dims = 3

    # ------------------------------------------------------------------ building
    def build_backend(self) -> BuildBackend:
        """Track building of this detector's datasets (:mod:`tracknet.building.trackml`)."""
        from ..building.trackml import TrackMLBuildBackend

        return TrackMLBuildBackend()

    # ------------------------------------------------------------------ training
    def simulation_cache(self) -> Any:
        """The cache of simulated TrackML-like training events."""
        from ..training.simulation_cache import TRACKML_EVENTS

        return TRACKML_EVENTS

    def data_module(self, settings: Any, *, progress: bool = True) -> Any:
        """The training data module of these ``data`` settings (TrackML CSV events)."""
        from ..training.datamodule import TrackDataModule

        return TrackDataModule(settings, progress=progress, simulation=self.simulation_cache())

    # ------------------------------------------------------------------ evaluation
    def evaluate_directory(
        self,
        data_dir: str | os.PathLike[str],
        submission: str | os.PathLike[str] | pd.DataFrame,
        selection: ParticleSelection | None,
        *,
        min_track_hits: int,
        use_computed_weights: bool = False,
        workers: Workers | None = None,
        truth_dir: str | os.PathLike[str] | None = None,
    ) -> DirectoryEvaluation:
        """TrackML score and tracking metrics (semi-synthetic ones when the truth holds
        unlabelled hits): :mod:`tracknet.evaluation.trackml_files`."""
        from ..evaluation.trackml_files import evaluate_trackml_submission

        if truth_dir is not None:
            raise ConfigError(
                "--truth is for straw production events; TrackML events hold their truth files"
            )
        return evaluate_trackml_submission(
            data_dir,
            submission,
            selection,
            min_track_hits=min_track_hits,
            use_computed_weights=use_computed_weights,
            workers=workers,
        )

    # ------------------------------------------------------------------ augmentation
    def overlay_library_criteria(self) -> LibraryCriteria:
        """Library criteria: no per-event track limit (a TrackML event holds thousands of
        particles); the per-track cuts as :class:`LibraryCriteria` defines them."""
        from ..augment.library import LibraryCriteria

        return LibraryCriteria(max_tracks=None)

    def track_library(
        self, source: str | os.PathLike[str], criteria: LibraryCriteria | None
    ) -> TrackLibrary:
        from pathlib import Path

        from ..augment.library import trackml_library
        from ..io.trackml import iter_events

        return trackml_library(
            iter_events(source, parts=("hits", "truth", "particles")),
            criteria,
            source=str(Path(source)),
        )

    def write_overlay(self, job: OverlayJob) -> dict[str, Any]:
        from ..augment.writers import write_trackml_overlay

        return write_trackml_overlay(job)
