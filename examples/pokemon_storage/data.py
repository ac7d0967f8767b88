"""Creatures caught by players, in insertion order: a few keen players catch far more than the rest."""

from __future__ import annotations

import datetime
import random
from typing import Iterator

SPECIES = ("bulbasaur", "charmander", "squirtle", "pikachu", "eevee", "snorlax", "magikarp", "gengar")


def creatures(count: int = 100_000, players: int = 5_000, seed: int = 7) -> Iterator[dict]:
    """Documents of the ``game.creatures`` collection (database field names), oldest first."""
    rng = random.Random(seed)
    start = datetime.datetime(2026, 1, 1)
    for number in range(count):
        # Pareto-like activity: low player ids (the early adopters) play most.
        user_id = min(int(rng.paretovariate(1.2)) - 1, players - 1) if rng.random() < 0.5 else rng.randrange(players)
        yield {"_id": number, "user_id": user_id, "species": rng.choice(SPECIES), "level": rng.randint(1, 100),
               "caught_at": start + datetime.timedelta(seconds=number * 3)}
