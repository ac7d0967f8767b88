"""The shop example (examples/shop): its walkthrough's steps, and its safe writes on the real mongod."""

from __future__ import annotations

import json

import pytest
from commandline import run
from mongoengine import connect, disconnect

from examples.shop.before import Buyer, Customer, run_workload
from examples.shop.models import ShardedOrder
from mongoshard import audit, capture
from mongoshard.model.safe_writes import ShardKeyWriteError

CANDIDATE = {"buyer.cid": 1, "number": 1}


@pytest.fixture
def shop(cluster):
    """The shop's workload on a real mongod, every query captured; the database is dropped afterwards."""
    port = cluster.topology.shards[1].ports[0]
    with capture() as recorder:
        client = connect("shop", host=f"mongodb://127.0.0.1:{port}/?directConnection=true", uuidRepresentation="standard")
        try:
            yield recorder
        finally:
            client.drop_database("shop")
            disconnect()


@pytest.mark.mongod
def test_the_declared_shop_writes_only_targeted_single_document_writes(shop) -> None:
    run_workload(ShardedOrder, customers=5, rounds=2)
    report = audit([r for r in shop.records if r["namespace"] == "shop.orders"], {"shop.orders": {"declared": CANDIDATE}})
    saves = [f for f in report.collections[0].shapes if f.operation == "update"]
    assert [(f.shape, f.upsert, f.kinds["declared"][0]) for f in saves] == \
        [({"_id": "?objectId", "buyer.cid": "?int", "number": "?int"}, False, "single-shard")]
    assert all(not f.writes for f in report.collections[0].shapes)
    assert ShardedOrder.objects.count() == 10 and Customer.objects.count() == 5


@pytest.mark.mongod
def test_moving_an_order_to_another_buyer_is_refused_then_done_by_modify(shop) -> None:
    run_workload(ShardedOrder, customers=2, rounds=1)
    order = ShardedOrder.objects.get(buyer__customer_id=1, number=1)
    order.buyer.customer_id = 2
    with pytest.raises(ShardKeyWriteError, match="ShardedOrder.buyer.customer_id is part of the shard key"):
        order.save()
    order = ShardedOrder.objects.get(buyer__customer_id=1, number=1)
    assert order.modify(buyer=Buyer(customer_id=2, name="Customer 2"), number=2) is True
    stored = sorted((d["buyer"]["cid"], d["number"]) for d in ShardedOrder._get_collection().find())
    assert stored == [(2, 1), (2, 2)]


def test_the_walkthrough_advice() -> None:
    before = run("advise", "examples.shop.before", "--json")
    assert before.returncode == 0
    found = {(f["model"], f["rule"]): f for f in json.loads(before.stdout)}
    assert "a key that starts with buyer.cid" in found[("Order", "unsharded-collection")]["message"]
    candidates = run("advise", "examples.shop.before", "--json", "--key", 'shop.orders={"placed_at": 1}',
                     "--key", 'shop.orders={"buyer.cid": 1, "number": 1}')
    rules = [(f["rule"], f["message"]) for f in json.loads(candidates.stdout)]
    assert candidates.returncode == 1 and [r for r, m in rules if "placed_at" in m] == ["monotonic-key", "unenforceable-unique"]
    after = run("advise", "examples.shop.models")
    assert after.returncode == 0 and "No findings" in after.stdout
