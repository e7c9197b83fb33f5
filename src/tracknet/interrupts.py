"""Interrupted runs: SIGINT and SIGTERM become one exception that cleanup code sees.

By default SIGTERM ends Python at once (no ``finally`` block runs, so temporary files stay
behind) and SIGINT raises :class:`KeyboardInterrupt`, which click turns into ``Aborted!``
and Lightning into ``sys.exit(1)``. :func:`raising_signals` (the ``tracknet`` entry point
installs it) makes both raise :class:`Interrupted` instead: a :class:`BaseException`, so no
``except Exception`` swallows it and every ``finally`` and ``__exit__`` on the way runs.

* :func:`uninterrupted` defers a signal while a few renames make outputs appear
  (:mod:`tracknet.io.atomic`): the interrupt is raised when the block ends, so the outputs
  are then complete, never half renamed.
* :func:`on_interrupt` says what an interrupt inside a block leaves behind; the outermost
  block has the last word. The command line prints it as ``interrupted: <outcome>``.
* An interrupt that Python swallows (the handler ran inside a ``__del__`` or a finaliser)
  is raised again as soon as that code is left.
* An interrupt swallowed where the handler happened to run (a ``__del__``, a finaliser,
  C code that clears errors) is noticed when its object dies: the signal is sent again.
* A second signal while the first is unwinding is ignored, so cleanup runs to its end;
  an error that the cleanup raises in turn stands for the interrupt (:func:`interrupt_of`),
  and a child process that dies meanwhile is no error (SIGCHLD handlers are reset).
* In a process forked from this one (a DataLoader worker) either signal raises
  :class:`KeyboardInterrupt`, on which a worker stops quietly.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

__all__ = [
    "SIGNALS",
    "Interrupted",
    "interrupt_of",
    "on_interrupt",
    "raising_signals",
    "uninterrupted",
]

#: The signals that interrupt a run.
SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A run stopped by SIGINT or SIGTERM; ``outcome`` says what it leaves behind."""

    def __init__(self, signum: int, outcome: str | None = None) -> None:
        self.signum = int(signum)
        self.outcome = outcome
        super().__init__(signal.Signals(self.signum).name)

    @property
    def exit_code(self) -> int:
        """``128 + signal number``: 130 for SIGINT, 143 for SIGTERM (the shell's convention)."""
        return 128 + self.signum

    def message(self) -> str:
        """``interrupted`` or ``interrupted: <outcome>`` (one line)."""
        if not self.outcome:
            return "interrupted"
        return "interrupted: " + " ".join(str(self.outcome).split())


def interrupt_of(exc: BaseException) -> Interrupted | None:
    """The :class:`Interrupted` that ``exc`` is, or was raised while handling, if any.

    Cleanup run by an interrupt can fail in turn (a DataLoader worker killed by the same
    signal makes PyTorch raise ``RuntimeError`` while Lightning shuts the workers down):
    such an error stands for the interrupt.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, Interrupted):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


class _State:
    def __init__(self) -> None:
        self.pid: int | None = None  # the process whose handlers raise
        self.session = 0  # counts raising_signals() blocks, so a watcher knows its own
        self.depth = 0  # nesting of uninterrupted()
        self.pending: int | None = None  # a signal received inside uninterrupted()
        self.raised: weakref.ref[Interrupted] | None = None  # the interrupt on its way up

    def unwinding(self) -> bool:
        """True while the interrupt raised last is still alive (on its way up)."""
        return self.raised is not None and self.raised() is not None


_state = _State()
#: How often a raised interrupt is checked for having been swallowed, seconds.
_WATCH_S = 0.2


def _handler(signum: int, frame: FrameType | None) -> None:
    if os.getpid() != _state.pid:
        # A forked child (a DataLoader worker, when the whole process group is signalled):
        # KeyboardInterrupt, which a worker takes as the sign to stop quietly while this
        # process shuts it down. Dying of the signal instead would make the parent report
        # a killed worker in place of the interrupt. A second signal has the default effect.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise KeyboardInterrupt
    if _state.unwinding():
        return
    if _state.depth:
        if _state.pending is None:
            _state.pending = signum
        return
    _raise(signum)


def _raise(signum: int) -> None:
    # From now on a child's death is no error: PyTorch's SIGCHLD handler raises when a
    # DataLoader worker dies, and the same signal may have killed the workers.
    if callable(signal.getsignal(signal.SIGCHLD)):
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    exc = Interrupted(signum)
    _state.raised = weakref.ref(exc)
    threading.Thread(target=_watch, args=(_state.session, signum), daemon=True).start()
    try:
        raise exc
    finally:
        del exc  # no reference cycle through this frame: a swallowed interrupt dies at once


def _watch(session: int, signum: int) -> None:
    """Send ``signum`` again if the interrupt raised for it dies before the process ends.

    A handler can run where Python or a C extension swallows what it raises (a ``__del__``,
    a finaliser, an attribute lookup that clears errors); the interrupt is then lost and
    its object freed. The signal sent again is raised where it can propagate.
    """
    while _state.session == session:
        time.sleep(_WATCH_S)
        raised = _state.raised
        if _state.session != session or raised is None:
            return
        if raised() is None:
            _state.raised = None
            os.kill(os.getpid(), signum)
            return


@contextlib.contextmanager
def raising_signals() -> Iterator[None]:
    """Within the block SIGINT and SIGTERM raise :class:`Interrupted` (main thread only;
    elsewhere the block changes nothing). The previous handlers (SIGCHLD's too) come back
    at the end."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[signal.Signals, Any] = {
        s: signal.getsignal(s) for s in (*SIGNALS, signal.SIGCHLD)
    }
    saved = (_state.pid, _state.depth, _state.pending, _state.raised)
    _state.pid, _state.depth, _state.pending, _state.raised = os.getpid(), 0, None, None
    _state.session += 1
    previous_hook = sys.unraisablehook

    def unraisable(info: Any) -> None:
        # An interrupt raised inside a __del__ or a finaliser is swallowed there; the
        # watcher sends the signal again (_watch). No "Exception ignored" message for it.
        if info.exc_value is None or interrupt_of(info.exc_value) is None:
            previous_hook(info)

    sys.unraisablehook = unraisable
    for signum in SIGNALS:
        signal.signal(signum, _handler)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        sys.unraisablehook = previous_hook
        _state.session += 1
        _state.pid, _state.depth, _state.pending, _state.raised = saved


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Defer SIGINT and SIGTERM until the block ends, then raise :class:`Interrupted`.

    For short critical sections (renaming finished files onto their names). Without
    :func:`raising_signals` in force the block changes nothing.
    """
    _state.depth += 1
    try:
        yield
    finally:
        _state.depth -= 1
    if _state.depth == 0 and _state.pending is not None and not _state.unwinding():
        signum, _state.pending = _state.pending, None
        _raise(signum)


@contextlib.contextmanager
def on_interrupt(outcome: str | Callable[[], str | None]) -> Iterator[None]:
    """Record what an :class:`Interrupted` raised inside the block leaves behind.

    ``outcome`` is the text, or a callable that returns it when the interrupt comes (after
    the cleanup of inner blocks). A block further out overrides it.
    """
    try:
        yield
    except BaseException as exc:
        interrupted = interrupt_of(exc)
        if interrupted is not None:
            text = outcome() if callable(outcome) else outcome
            if text:
                interrupted.outcome = text
        raise
