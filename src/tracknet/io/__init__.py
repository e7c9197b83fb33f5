"""Input and output: TrackML CSV events, submissions and detector descriptions.

See ``docs/architecture.md`` (Input and output).
"""

from __future__ import annotations

from .trackml import (
    iter_events,
    list_events,
    read_detectors,
    read_event,
    read_submission,
    write_event,
    write_submission,
)

__all__ = [
    "iter_events",
    "list_events",
    "read_detectors",
    "read_event",
    "read_submission",
    "write_event",
    "write_submission",
]
