"""Sensor readings: the timestamp key that hot-spots one shard, and the compound key that does not.

Readings arrive in time order.  Ranged on ``taken_at`` alone, every new
reading has the largest key so far and lands in the last chunk: one shard
takes all writes (the notes' hot spot).  Putting the sensor first,
``(sensor_id, taken_at)``, gives each sensor its own key range: writes spread
over all shards, and "one sensor's readings between two times" is still a
single targeted range scan.
"""

from __future__ import annotations

from mongoengine import DateTimeField, Document, FloatField, StringField

from mongoshard import sharded


@sharded(key="taken_at", database="telemetry")
class ReadingByTime(Document):
    """The tempting key: the advisor flags it (monotonic-key, error)."""

    sensor_id = StringField(required=True)
    taken_at = DateTimeField(required=True)
    value = FloatField()
    meta = {"collection": "readings_by_time"}


@sharded(key=("sensor_id", "taken_at"), database="telemetry")
class Reading(Document):
    """The fix: a high-cardinality prefix before the timestamp."""

    sensor_id = StringField(required=True)
    taken_at = DateTimeField(required=True)
    value = FloatField()
    meta = {"collection": "readings"}
