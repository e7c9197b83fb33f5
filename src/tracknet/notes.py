"""Notes on stderr: what a command skipped or left out, said once per command run."""

from __future__ import annotations

import sys

__all__ = ["note", "reset_notes"]

_SAID: set[str] = set()


def note(message: str) -> None:
    """Print ``note: message`` on stderr, unless this run of a command already did."""
    if message not in _SAID:
        _SAID.add(message)
        print(f"note: {message}", file=sys.stderr)


def reset_notes() -> None:
    """Forget the notes said (a new command run starts)."""
    _SAID.clear()
