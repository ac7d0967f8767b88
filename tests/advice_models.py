"""Models for the advisor's tests: for each rule, one that breaks it and one that does not."""

from __future__ import annotations

from mongoengine import BooleanField, DateTimeField, Document, IntField, ObjectIdField, SequenceField, StringField

from mongoshard import sharded


@sharded(key="taken_at", database="advice")
class ReadingByTime(Document):
    sensor_id = StringField()
    taken_at = DateTimeField()


@sharded(key=("sensor_id", "taken_at"), database="advice")
class ReadingBySensor(Document):
    sensor_id = StringField()
    taken_at = DateTimeField()


@sharded(key="event_id", database="advice")
class EventById(Document):
    event_id = ObjectIdField(primary_key=True)


@sharded(key="event_id", hashed=True, database="advice")
class EventByHashedId(Document):
    event_id = ObjectIdField(primary_key=True)


@sharded(key="order_seq", database="advice")
class OrderBySequence(Document):
    order_seq = SequenceField()


@sharded(key="active", database="advice")
class AccountByFlag(Document):
    active = BooleanField()


@sharded(key="region", database="advice")
class TradeByRegion(Document):
    region = StringField(choices=("ASIA", "EU", "US"))
    trade_id = IntField()


@sharded(key=("region", "trade_id"), database="advice")
class TradeByRegionAndId(Document):
    region = StringField(choices=("ASIA", "EU", "US"))
    trade_id = IntField()


@sharded(key="user_id", hashed=True, database="advice")
class UserWithUniqueEmail(Document):
    user_id = IntField()
    email = StringField(unique=True)


@sharded(key="user_id", database="advice")
class UserWithKeyedUniqueEmail(Document):
    user_id = IntField()
    email = StringField()
    meta = {"indexes": [{"fields": ["user_id", "email"], "unique": True}]}
