"""What ``@sharded``'s safe writes cost against plain mongoengine, on a real mongod (PyPI).

Two classes with the same fields and the same shard key in ``meta``: one plain mongoengine, one declared with
``@sharded`` (which installs the safe write path: the loaded key remembered, filters on it, key changes refused).
Rounds alternate between them (which goes first alternates too, and each measure starts after a garbage
collection) so that both see the same machine; each figure is the median of the rounds:

* ``save()`` of a new document;
* ``save()`` of a loaded document whose non-key field changed;
* ``modify()`` of a loaded document;
* loading 20,000 documents (``list(Model.objects)``);
* memory per loaded document (tracemalloc, the 20,000 documents alive).

Goal (issue 22): each at most 1.10 x plain mongoengine.  A third class, plain but for a ``__setattr__`` that only
passes each assignment on, is loaded in the same rounds: the least any guard on assignments costs (a changed key
field refused at once must be checked before mongoengine's own check in ``BaseDocument.__setattr__``, and
mongoengine assigns 12 attributes to every document it builds).

    python benchmarks/safe_writes.py [--quick]
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable

import mongoengine as me

from _mongod import scratch_mongod  # benchmarks/, the script's own folder
from mongoshard import sharded

QUICK = "--quick" in sys.argv  # the small size .ci/run runs: the work checked, the timings only printed
WRITES, LOADED, ROUNDS = (200, 2_000, 4) if QUICK else (2_000, 20_000, 10)


class PlainReading(me.Document):
    tenant = me.IntField(required=True)
    sensor = me.StringField()
    value = me.FloatField()
    meta = {"collection": "plain", "shard_key": ("tenant",)}


@sharded(key=("tenant",))
class SafeReading(me.Document):
    tenant = me.IntField(required=True)
    sensor = me.StringField()
    value = me.FloatField()
    meta = {"collection": "safe"}


class BareOverrideReading(me.Document):
    tenant = me.IntField(required=True)
    sensor = me.StringField()
    value = me.FloatField()
    meta = {"collection": "bare_override", "shard_key": ("tenant",)}

    def __setattr__(self, name: str, value: object) -> None:
        me.Document.__setattr__(self, name, value)


def save_new(model: type) -> float:
    started = time.perf_counter()
    for number in range(WRITES):
        model(tenant=number % 50, sensor=f"new{number}", value=float(number)).save()
    return time.perf_counter() - started


def save_changed(model: type) -> float:
    documents = list(model.objects.limit(WRITES))
    started = time.perf_counter()
    for document in documents:
        document.value += 1
        document.save()
    return time.perf_counter() - started


def modify(model: type) -> float:
    documents = list(model.objects.limit(WRITES))
    started = time.perf_counter()
    for document in documents:
        document.modify(inc__value=1)
    return time.perf_counter() - started


def load(model: type) -> float:
    started = time.perf_counter()
    documents = list(model.objects.limit(LOADED))
    seconds = time.perf_counter() - started
    assert len(documents) == LOADED, len(documents)
    return seconds


def bytes_per_document(model: type) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    documents = list(model.objects.limit(LOADED))
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(documents) == LOADED
    return (after - before) / LOADED


def fill(model: type) -> None:
    model.drop_collection()
    model.objects.insert([model(tenant=n % 50, sensor=f"s{n}", value=float(n)) for n in range(LOADED)], load_bulk=False)


def main() -> None:
    cases: list[tuple[str, Callable[[type], float]]] = [
        ("save() of a new document, seconds", save_new), ("save() of a loaded, changed document", save_changed),
        ("modify()", modify), (f"load {LOADED:,} documents", load), ("memory per loaded document, bytes", bytes_per_document)]
    models = (PlainReading, SafeReading, BareOverrideReading)
    with scratch_mongod() as port:
        me.connect("bench_safe_writes", host=f"mongodb://127.0.0.1:{port}/?directConnection=true")
        figures: dict[str, dict[type, list[float]]] = {label: {model: [] for model in models} for label, _ in cases}
        for round_number in range(ROUNDS):
            order = models[round_number % 3:] + models[:round_number % 3]  # each class goes first in turn
            for model in order:
                fill(model)
            for label, measure in cases:
                for model in order:
                    gc.collect()
                    figures[label][model].append(measure(model))
        for model in models:  # the last round's work was done: every write stored
            assert model.objects.count() == LOADED + WRITES, model.objects.count()
            assert model.objects(sensor="s1").get().value == 1.0 + 2  # changed by one save() and one modify()
        me.disconnect()
    print(f"{f'@sharded safe writes against plain mongoengine, median of {ROUNDS}':<48} {'plain':>10} {'@sharded':>10} "
          f"{'ratio':>7} {'bare override':>14}")
    for label, _ in cases:
        plain, safe, bare = (statistics.median(figures[label][model]) for model in models)
        unit = ".0f" if label.startswith("memory") else ".3f"
        print(f"{'  ' + label:<48} {plain:>10{unit}} {safe:>10{unit}} {safe / plain:>7.2f} {bare / plain:>14.2f}")
    print("  (goal: each ratio <= 1.10; bare override: plain mongoengine with a __setattr__ that only passes on, the "
          "least an assignment guard costs)")


if __name__ == "__main__":
    main()
