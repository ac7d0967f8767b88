"""Creatures caught by players, in insertion order: early players (low ids) catch more than late ones."""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator

SPECIES = ("bulbasaur", "charmander", "squirtle", "pikachu", "eevee", "snorlax", "magikarp", "gengar")


def creatures(count: int = 100_000, players: int = 5_000, seed: int = 7) -> Iterator[dict]:
    """Documents of the ``game.creatures`` collection (database field names), oldest first."""
    rng = random.Random(seed)
    start = datetime.datetime(2026, 1, 1)
    for number in range(count):
        # Skewed but with no single celebrity: player 0 is the most active, about twice player 1250's rate.
        user_id = int(players * rng.random() ** 2)
        yield {"_id": number, "user_id": user_id, "species": rng.choice(SPECIES), "level": rng.randint(1, 100),
               "caught_at": start + datetime.timedelta(seconds=number * 3)}
