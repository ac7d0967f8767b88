"""Stop signals at any instant: only the interruption escapes, and a held signal waits for the end of its block.

The observer is the interpreter itself: real signals, raised at random instants
by a real interval timer, into the real thread machinery ``up`` and ``health``
run on. Before, one signal in about a hundred landed inside ThreadPoolExecutor's
own locking and came out as "cannot release un-acquired lock" (an internal
error instead of a rollback), and the process then hung at exit.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from mongoshard.parallel import WORKER_NAME, in_parallel, signals_deferred


class Stop(Exception):
    """What the CLI's handler raises (``Interrupted``), reduced to its shape."""


def _raise_stop(signum: int, frame: object) -> None:
    raise Stop(signum)


@pytest.fixture
def stop_on_sigterm() -> Iterator[None]:
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGALRM)}
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGALRM, lambda signum, frame: signal.raise_signal(signal.SIGTERM))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _nap(item: int) -> int:
    time.sleep(0.001 * (item % 5))
    return item


def test_a_stop_signal_at_any_instant_of_in_parallel_escapes_as_itself(stop_on_sigterm: None) -> None:
    random.seed(22)
    interrupted = 0
    for _ in range(400):
        signal.setitimer(signal.ITIMER_REAL, random.uniform(0.0001, 0.006))  # starting workers, or waiting for them
        try:
            try:
                assert in_parallel(_nap, range(8)) == list(range(8))
            except Stop:
                interrupted += 1
            signal.setitimer(signal.ITIMER_REAL, 0)
        except Stop:  # the alarm went off just after in_parallel returned
            pass
    assert interrupted > 300  # the signals did land inside in_parallel, not only after it
    deadline = time.monotonic() + 5
    while workers := [t.name for t in threading.enumerate() if t.name.startswith(WORKER_NAME)]:
        # the workers of an interrupted in_parallel finish their item and end, whenever the signal came
        assert time.monotonic() < deadline, f"workers of an interrupted in_parallel still running: {workers}"
        time.sleep(0.01)


def test_a_held_stop_signal_reaches_its_handler_when_the_block_ends(stop_on_sigterm: None) -> None:
    bystander = threading.Thread(target=time.sleep, args=(1,))  # a thread the kernel may hand the signal to
    bystander.start()
    steps = []
    with pytest.raises(Stop):
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)  # a handler that ran now would raise here
            steps.append("block finished")
    assert steps == ["block finished"]
    assert signal.getsignal(signal.SIGTERM) is _raise_stop
    bystander.join()


def test_outside_the_main_thread_nothing_is_held_or_replaced(stop_on_sigterm: None) -> None:
    outcome = []

    def in_a_worker() -> None:
        with signals_deferred():
            outcome.append(signal.getsignal(signal.SIGTERM))

    worker = threading.Thread(target=in_a_worker)
    worker.start()
    worker.join()
    assert outcome == [_raise_stop]
