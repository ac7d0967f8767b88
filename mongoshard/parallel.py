"""Work in threads that a stop signal interrupts cleanly: only the signal's own exception ever escapes.

Python runs signal handlers in the main thread, between any two bytecodes, so the
exception a stop signal raises (the CLI's ``Interrupted``) can land inside
``threading``'s own locking: raised in ``Condition.wait`` (``Future.result``,
``ThreadPoolExecutor.map``) it came out as "cannot release un-acquired lock" and
left the process hanging at exit (tests/test_stop_signals.py).
"""

from __future__ import annotations

import collections
import contextlib
import signal
import threading
import time
from typing import Any
from collections.abc import Callable, Iterable, Iterator

__all__ = ["STOP_SIGNALS", "WORKER_NAME", "signals_deferred", "in_parallel"]

# The signals that ask mongoshard to stop: each rolls back what an interrupted command started.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# The names of in_parallel's worker threads begin with this (a thread dump says whose they are).
WORKER_NAME = "mongoshard-parallel"


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold the stop signals until the block is done: a spawned process must be recorded before anyone acts on one.

    Held where Python runs its handlers (the main thread), not with a signal mask: the kernel hands a signal to
    any thread that does not block it (a worker, a progress display), and the handler would still run here.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers only ever run in the main thread, so nothing can interrupt this one
        return
    received: list[int] = []
    holding = True
    previous: dict[int, Any] = {signum: handler for signum in STOP_SIGNALS
                                if (handler := signal.getsignal(signum)) is not None}

    def hold(arrived: int, _frame: Any) -> None:
        if holding:
            received.append(arrived)
        else:  # the block is over, but a signal interrupted the restoring before it reached this one
            signal.signal(arrived, previous[arrived])
            signal.raise_signal(arrived)

    for signum in previous:
        signal.signal(signum, hold)
    try:
        yield
    finally:
        holding = False
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for arrived in received:  # each to the handler it was meant for, now that the block is done
            signal.raise_signal(arrived)


def in_parallel(function: Callable[[Any], Any], items: Iterable[Any], parallel: bool = True,
                workers: int | None = None) -> list[Any]:
    """``function`` over ``items`` in threads (servers start and answer independently, reads wait on the network),
    at most ``workers`` at a time (one per item by default), results in order; the first failure is raised at once.

    The calling thread never takes a lock the workers also take: an exception raised by a signal handler between a
    lock's acquire and its release (``Future.done()`` takes one, ``Future.result()`` waits on one) left it held, and
    the worker finishing that item blocked on it forever, and so did the interpreter's exit.  The workers take items
    from a deque and write each outcome into its own slot; the caller reads the slots and sleeps.

    When the calling thread is interrupted, it does not wait for the workers: the items not started are dropped,
    those under way finish unobserved (``up``'s waits watch a ``Deadline`` that the interrupted caller cancels).
    """
    items = list(items)
    if not parallel or len(items) < 2:
        return [function(item) for item in items]
    pending = collections.deque(enumerate(items))  # popleft and clear are atomic: no lock in the caller's way
    outcomes: list[tuple[bool, Any] | None] = [None] * len(items)  # (succeeded, result or exception)

    def work() -> None:
        while True:
            try:
                index, item = pending.popleft()
            except IndexError:
                return
            try:
                outcomes[index] = (True, function(item))
            except BaseException as error:  # handed to the caller, which raises it
                outcomes[index] = (False, error)

    try:
        with signals_deferred():  # a thread interrupted while it starts is left half made
            for number in range(min(len(items), workers or len(items))):
                threading.Thread(target=work, name=f"{WORKER_NAME}-{number}").start()
        # (a signal held meanwhile is raised on leaving the block: inside this try, so the items left are dropped)
        pause = 0.001  # short work (a small cluster's reads) is not held up; long work is polled 50 times a second
        while True:
            for outcome in outcomes:
                if outcome is not None and not outcome[0]:
                    raise outcome[1]
            if all(outcome is not None for outcome in outcomes):
                return [outcome[1] for outcome in outcomes if outcome is not None]
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
    except BaseException:
        pending.clear()
        raise
