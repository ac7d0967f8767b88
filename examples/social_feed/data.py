"""Posts of a social feed where one celebrity writes a third of everything."""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator

from examples.social_feed.models import POSTS

CELEBRITY = 1


def posts(count: int = 100_000, authors: int = 20_000, seed: int = 5) -> Iterator[dict]:
    """Documents with database field names, salted as ``Post`` salts them."""
    rng = random.Random(seed)
    start = datetime.datetime(2026, 6, 1)
    for number in range(count):
        author = CELEBRITY if rng.random() < 0.33 else rng.randrange(2, authors)
        document = {"_id": number, "author_id": author, "text": "x" * rng.randint(20, 200),
                    "posted_at": start + datetime.timedelta(seconds=number)}
        POSTS.assign(document)
        yield document
