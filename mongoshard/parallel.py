"""Work in threads that a stop signal interrupts cleanly: only the signal's own exception ever escapes.

Python runs signal handlers in the main thread, between any two bytecodes, so the
exception a stop signal raises (the CLI's ``Interrupted``) can land inside
``threading``'s own locking: raised in ``Condition.wait`` (``Future.result``,
``ThreadPoolExecutor.map``) it came out as "cannot release un-acquired lock" and
left the process hanging at exit (tests/test_stop_signals.py).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from collections.abc import Callable, Iterable, Iterator

__all__ = ["STOP_SIGNALS", "signals_deferred", "in_parallel"]

# The signals that ask mongoshard to stop: each rolls back what an interrupted command started.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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
    previous = {signum: handler for signum in STOP_SIGNALS if (handler := signal.getsignal(signum)) is not None}
    for signum in previous:
        signal.signal(signum, lambda arrived, _frame: received.append(arrived))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for arrived in received:  # each to the handler it was meant for, now that the block is done
            signal.raise_signal(arrived)


def in_parallel(function: Callable[[Any], Any], items: Iterable[Any], parallel: bool = True,
                workers: int | None = None) -> list[Any]:
    """``function`` over ``items`` in threads (servers start and answer independently, reads wait on the network),
    at most ``workers`` at a time (one per item by default), results in order.

    When the calling thread is interrupted, it does not wait for the workers: the items not started are cancelled,
    those under way finish unobserved (``up``'s waits watch a ``Deadline`` that the interrupted caller cancels).
    """
    items = list(items)
    if not parallel or len(items) < 2:
        return [function(item) for item in items]
    with signals_deferred():  # interrupted while a worker starts, ThreadPoolExecutor leaves a thread half made
        pool = ThreadPoolExecutor(min(len(items), workers or len(items)))
        futures = [pool.submit(function, item) for item in items]
    try:
        # Polled, never waited on: a stop signal's exception raised inside Condition.wait (Future.result, the
        # pool's map) can leave the condition's lock released twice ("cannot release un-acquired lock" instead of
        # the interruption); raised inside sleep, it leaves nothing behind.
        pause = 0.001  # short work (a small cluster's reads) is not held up; long work is polled 50 times a second
        while not all(future.done() for future in futures):
            for future in futures:  # a failure is raised at once, without waiting for the others
                if future.done() and (error := future.exception()) is not None:
                    raise error
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return [future.result() for future in futures]
