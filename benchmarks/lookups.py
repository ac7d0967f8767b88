"""What a lookup costs, on a real one-member replica set (the PyPI mongod), measured side by side in one run:

* ``save()`` of a new user with one unique lookup (examples.accounts: a transaction writing the user and its entry)
  against a plain mongoengine ``save()`` of the same document shape, medians of interleaved runs.  Goal: at most 2.5x.
* a read by email through the lookup: the commands it sends (goal: two finds, the lookup's and the owner's).
* ``build_lookup`` over N existing users against a plain ``insert_many`` of the same entries.  Goal: within 3x.

Usage: ``python benchmarks/lookups.py [N]`` (N users for the build, 1,000,000 by default; ``make bench``).
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
import uuid
from collections.abc import Iterator

import mongoengine as me
from pymongo import MongoClient, monitoring

from _mongod import scratch_mongod  # benchmarks/, the script's own folder
from mongoshard.cluster.lookups import build_lookup
from mongoshard.model.declaration import spec_for

QUICK = "--quick" in sys.argv  # the small size .ci/run runs: the work checked, the timings only printed
SAVES, ROUNDS = (30, 1) if QUICK else (300, 5)


class Finds(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class PlainUser(me.Document):
    user_id = me.IntField(required=True)
    email = me.StringField()
    phone = me.StringField()
    name = me.StringField()
    meta = {"collection": "plain_users", "db_alias": "accounts"}


@contextlib.contextmanager
def replica_set() -> Iterator[int]:
    """A one-member replica set: lookups write in transactions, which need one."""
    with scratch_mongod("--replSet", "rs0") as port:
        with MongoClient(port=port, directConnection=True) as client:
            client.admin.command("replSetInitiate", {"_id": "rs0", "members": [{"_id": 0, "host": f"127.0.0.1:{port}"}]})
        with MongoClient(f"mongodb://127.0.0.1:{port}/?replicaSet=rs0", serverSelectionTimeoutMS=30_000) as client:
            client.admin.command("ping")
        yield port


def seconds_per_save(make) -> float:
    started = time.perf_counter()
    for number in range(SAVES):
        make(number).save()
    return (time.perf_counter() - started) / SAVES


def main() -> None:
    from examples.accounts.models import User

    sizes = [int(argument) for argument in sys.argv[1:] if argument != "--quick"]
    size = sizes[0] if sizes else 2_000 if QUICK else 1_000_000
    with replica_set() as port:
        try:
            listener = Finds()
            me.disconnect(alias="accounts")
            me.connect(db="bench", alias="accounts", host=f"mongodb://127.0.0.1:{port}/?replicaSet=rs0",
                       uuidRepresentation="standard", event_listeners=[listener])
            User.objects.insert([User(user_id=-1, email="warm@x")])  # the collections exist before timing
            PlainUser(user_id=-1).save()
            with_lookup, plain = [], []
            for round_number in range(ROUNDS):  # interleaved, so drift hits both alike
                base = (round_number + 1) * 10_000
                plain.append(seconds_per_save(lambda n, base=base: PlainUser(user_id=base + n, email=f"{uuid.uuid4()}@x")))
                with_lookup.append(seconds_per_save(lambda n, base=base: User(user_id=base + n, email=f"{uuid.uuid4()}@x")))
            ratio = statistics.median(with_lookup) / statistics.median(plain)
            print(f"save() of a new user, median of {ROUNDS} x {SAVES}: plain {statistics.median(plain) * 1e3:.2f} ms, "
                  f"with a unique lookup {statistics.median(with_lookup) * 1e3:.2f} ms: {ratio:.2f}x (goal <= 2.5x)")
            known = User.objects(user_id=10_000).first()
            listener.names.clear()
            assert User.objects.get(email=known.email).pk == known.pk
            print(f"a read by email: {listener.names.count('find')} finds {listener.names} (goal: 2)")
            build(User, size)
        finally:
            me.disconnect(alias="accounts")


def build(User: type, size: int) -> None:
    database = User._get_db()
    database.drop_collection("users")
    database.drop_collection("users.by_email")
    batch = 50_000
    for start in range(0, size, batch):
        numbers = range(start, min(size, start + batch))
        database.users.insert_many([{"user_id": n, "email": f"user{n}@example.com"} for n in numbers])
    spec = spec_for(User)
    email = next(lookup for lookup in spec.lookups if lookup.unique)
    client = me.connection.get_connection("accounts")
    started = time.perf_counter()
    report = build_lookup(client, spec, email, batch=5000)
    built = time.perf_counter() - started
    assert report.exact and report.written == size, report
    owners = list(database.users.find({}, {"email": 1, "user_id": 1}))
    database.drop_collection("floor_entries")
    started = time.perf_counter()
    for start in range(0, size, batch):
        database.floor_entries.insert_many([{"_id": o["email"], "key": {"user_id": o["user_id"]}, "owner": o["_id"]}
                                            for o in owners[start:start + batch]])
    floor = time.perf_counter() - started
    print(f"build of {size:,} entries: {built:.2f} s; a plain insert_many of the same entries {floor:.2f} s "
          f"(the owners already in memory): {built / floor:.2f}x (goal <= 3x)")


if __name__ == "__main__":
    main()
