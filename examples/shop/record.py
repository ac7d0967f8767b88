"""Record the shop's queries for 'mongoshard audit': run its workload against a MongoDB server, inside capture().

    python -m examples.shop.record mongodb://127.0.0.1:27017 queries.jsonl            # the shop as it is
    python -m examples.shop.record mongodb://127.0.0.1:27017 sharded.jsonl --sharded  # with the declared key

The workload writes to the database 'shop' and drops it at the end; it refuses to start if 'shop' already exists
(nothing is deleted that it did not create).
"""

from __future__ import annotations

import sys

from mongoengine import connect, disconnect

from mongoshard import capture

from .before import Order, run_workload
from .models import ShardedOrder

DATABASE = "shop"


def record(uri: str, log: str, *, sharded: bool = False) -> int:
    """Run the workload once (on ``models.ShardedOrder`` when ``sharded``), appending every query shape to ``log``;
    the number of queries recorded."""
    order_class = ShardedOrder if sharded else Order
    with capture(log) as recorder:
        client = connect(DATABASE, host=uri, uuidRepresentation="standard", serverSelectionTimeoutMS=5000)
        if DATABASE in client.list_database_names():
            disconnect()
            sys.exit(f"the server already has a database '{DATABASE}': record against a server without it")
        try:
            run_workload(order_class)
        finally:
            client.drop_database(DATABASE)
            disconnect()
    return len([r for r in recorder.records if r["namespace"].startswith(DATABASE)])


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--sharded"]
    if len(arguments) != 2:
        sys.exit("usage: python -m examples.shop.record MONGODB_URI LOG_FILE [--sharded]")
    print(f"recorded {record(*arguments, sharded='--sharded' in sys.argv)} queries to {arguments[1]}")
