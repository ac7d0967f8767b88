"""Orders shaped like the shop's, in the order they are placed: a few buyers order often, most rarely."""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator


def orders(count: int = 100_000, customers: int = 20_000, seed: int = 7) -> Iterator[dict]:
    """Documents with database field names (``buyer.cid``), one every few seconds."""
    rng = random.Random(seed)
    start = datetime.datetime(2026, 6, 1)
    placed: dict[int, int] = {}
    for index in range(count):
        customer = min(int(rng.paretovariate(1.2)), customers)  # a long tail: customer 1 orders most
        placed[customer] = placed.get(customer, 0) + 1
        yield {"_id": index, "buyer": {"cid": customer, "name": f"Customer {customer}"}, "number": placed[customer],
               "status": rng.choice(("placed", "paid", "shipped")),
               "placed_at": start + datetime.timedelta(seconds=3 * index),
               "lines": [{"sku": f"sku-{rng.randrange(500)}", "quantity": 1}]}
