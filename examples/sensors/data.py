"""Readings of many sensors, one per sensor per minute, in arrival (time) order."""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator


def readings(count: int = 200_000, sensors: int = 500, seed: int = 11) -> Iterator[dict]:
    """Documents with database field names; every sensor reports once a minute."""
    rng = random.Random(seed)
    start = datetime.datetime(2026, 3, 1)
    for number in range(count):
        minute, sensor = divmod(number, sensors)
        yield {"_id": number, "sensor_id": f"sensor-{sensor:04d}",
               "taken_at": start + datetime.timedelta(minutes=minute, seconds=rng.random()),
               "value": round(rng.gauss(20.0, 3.0), 2)}
