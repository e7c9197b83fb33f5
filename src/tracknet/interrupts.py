"""Interrupted runs: SIGINT and SIGTERM become one exception that cleanup code sees.

By default SIGTERM ends Python at once (no ``finally`` block runs, so temporary files stay
behind) and SIGINT raises :class:`KeyboardInterrupt`, which click turns into ``Aborted!``
and Lightning into ``sys.exit(1)``. :func:`raising_signals` (the entry points install it,
:mod:`tracknet.entry`) makes both raise :class:`Interrupted` instead: a
:class:`BaseException`, so no ``except Exception`` swallows it and every ``finally`` and
``__exit__`` on the way runs.

* Where it is raised: only in the program's own code, never inside the standard library
  or an installed package (nor in this module or :mod:`tracknet.io.atomic`), since an
  exception raised right after a lock is taken leaves the lock taken (pyarrow's thread
  pool then deadlocks). A signal that comes elsewhere is sent again every few hundredths
  of a second until it lands in such code.
* :func:`uninterrupted` defers a signal while a few renames make outputs appear
  (:mod:`tracknet.io.atomic`): the interrupt is raised when the block ends, so the outputs
  are then complete, never half renamed.
* :func:`on_interrupt` says what an interrupt inside a block leaves behind; the outermost
  block has the last word. The command line prints it as ``interrupted: <outcome>``.
* A second signal while the first is unwinding is ignored, so cleanup runs to its end.
  An interrupt swallowed on its way up (in a ``__del__``, or by C code that clears errors)
  is noticed when its object dies, and the signal is sent again. An error that the cleanup
  raises in turn stands for the interrupt (:func:`interrupt_of`), and a child process that
  dies meanwhile is no error (SIGCHLD handlers are reset).
* In a process forked from this one (a DataLoader worker) either signal raises
  :class:`KeyboardInterrupt`, on which a worker stops quietly.
"""

from __future__ import annotations

import contextlib
import os
import signal
import site
import sys
import sysconfig
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


def interrupt_of(exc: BaseException, *, pending: bool = True) -> Interrupted | None:
    """The :class:`Interrupted` that ``exc`` stands for, if any.

    That is ``exc`` itself or an interrupt it was raised while handling (cleanup run by an
    interrupt can fail in turn: a DataLoader worker killed by the same signal makes
    PyTorch raise ``RuntimeError`` while Lightning shuts the workers down), or, when a
    signal came but was not raised yet (:func:`raising_signals` raises only in the
    program's own code) or its interrupt was swallowed, a new interrupt for it (unless
    ``pending`` is false), linked at
    the end of ``exc``'s context chain so that every later call finds the same one.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    last = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, Interrupted):
            return current
        seen.add(id(current))
        last = current
        current = current.__cause__ or current.__context__
    if not pending or os.getpid() != _state.pid:
        return None
    raised = _state.raised
    if _state.pending is None and raised is not None and raised() is None:
        # An interrupt raised earlier was swallowed (by library cleanup) before the watcher
        # noticed: ``exc`` came after it and stands for it.
        _state.pending = _state.raised_signum
    if _state.pending is None:
        return None
    interrupted = Interrupted(_state.pending)
    _state.pending = None
    _state.raised, _state.raised_signum = weakref.ref(interrupted), interrupted.signum
    last.__context__ = interrupted
    return interrupted


class _State:
    def __init__(self) -> None:
        self.pid: int | None = None  # the process whose handlers raise
        self.session = 0  # counts raising_signals() blocks, so a watcher knows its own
        self.depth = 0  # nesting of uninterrupted()
        self.pending: int | None = None  # a signal not raised yet
        self.raised: weakref.ref[Interrupted] | None = None  # the interrupt on its way up
        self.raised_signum = 0
        self.watcher: tuple[int, threading.Thread] | None = None  # (session, thread)

    def unwinding(self) -> bool:
        """True while the interrupt raised last is still alive (on its way up)."""
        return self.raised is not None and self.raised() is not None


_state = _State()
#: How often a signal not raised yet is sent again, seconds.
_RETRY_S = 0.02


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    found = {os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    with contextlib.suppress(AttributeError):  # site.getsitepackages is missing in some venvs
        found.update(os.path.realpath(p) for p in site.getsitepackages())
    return tuple(sorted(d + os.sep for d in found))


_PACKAGE_DIR = os.path.dirname(os.path.realpath(__file__)) + os.sep
_LIBRARY_DIRS = _library_dirs()
#: Our own modules where an interrupt must not be raised (the machinery itself).
_NOT_HERE = frozenset(
    os.path.realpath(os.path.join(_PACKAGE_DIR, *parts))
    for parts in (("interrupts.py",), ("io", "atomic.py"))
)


def _raisable(frame: FrameType | None) -> bool:
    """May an interrupt be raised in ``frame`` (the code the signal interrupted)?"""
    if frame is None:
        return True
    filename = frame.f_code.co_filename
    if filename.startswith("<"):  # frozen modules (importlib, runpy), or `python -c` code
        return filename in ("<string>", "<stdin>")
    path = os.path.realpath(filename)
    if path in _NOT_HERE:
        return False
    if path.startswith(_PACKAGE_DIR):
        return True
    return not path.startswith(_LIBRARY_DIRS)


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
    # From now on a child's death is no error: PyTorch's SIGCHLD handler raises when a
    # DataLoader worker dies, and the same signal may have killed the workers.
    if callable(signal.getsignal(signal.SIGCHLD)):
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if _state.depth or not _raisable(frame):
        if _state.pending is None:
            _state.pending = signum
        _ensure_watcher()
        return
    _raise(signum)


def _raise(signum: int) -> None:
    _state.pending = None
    exc = Interrupted(signum)
    _state.raised, _state.raised_signum = weakref.ref(exc), signum
    _ensure_watcher()
    try:
        raise exc
    finally:
        del exc  # no reference cycle through this frame: a swallowed interrupt dies at once


def _ensure_watcher() -> None:
    watcher = _state.watcher
    if watcher is None or watcher[0] != _state.session or not watcher[1].is_alive():
        thread = threading.Thread(target=_watch, args=(_state.session, _state.pid), daemon=True)
        _state.watcher = (_state.session, thread)
        thread.start()


def _watch(session: int, pid: int | None) -> None:
    """Until the session ends: send a signal not raised yet again (it came while code that
    must not be interrupted ran), and notice an interrupt that died on its way up (it was
    swallowed where the handler ran), whose signal is then sent again."""
    while _state.session == session:
        time.sleep(_RETRY_S)
        raised = _state.raised
        if raised is not None and raised() is None:  # swallowed: raise it once more
            _state.raised = None
            if _state.pending is None:
                _state.pending = _state.raised_signum
        pending = _state.pending
        if _state.session != session or pid is None:
            return
        if pending is not None and not _state.depth and not _state.unwinding():
            os.kill(pid, pending)


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
