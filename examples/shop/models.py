"""The shop after the walkthrough: the same collections, with the key that the audit, simulate and advise chose.

Orders are read by buyer (order pages) and written by buyer and number, so the
key is the buyer, then the order number: each buyer's orders sit together
(one shard per order page), the unique index (buyer, number) stays
enforceable, and buyers spread the inserts.  ``@sharded`` also makes
mongoengine's writes safe for this key (``mongoshard.model.safe_writes``): a
change of ``order.buyer.customer_id`` is refused before anything is sent.
"""

from __future__ import annotations

from mongoshard import sharded

from .before import OrderFields


@sharded(key=("buyer.customer_id", "number"), database="shop")
class ShardedOrder(OrderFields):
    meta = {"collection": "orders", "indexes": [{"fields": ["buyer.customer_id", "number"], "unique": True}, "placed_at"]}
