"""A game's creature storage, partitioned by player: the notes' pokemon_storage, the MongoDB way.

Every screen of the game reads one player's creatures, so the player id leads
every key: those reads stay on one shard.  Hashing the player id spreads new
players evenly instead of piling the newest ids onto the last chunk.
"""

from __future__ import annotations

import datetime

from mongoengine import DateTimeField, Document, EmbeddedDocument, EmbeddedDocumentField, IntField, StringField

from mongoshard import Zone, sharded


@sharded(key="user_id", hashed=True, presplit=8, database="game")
class Creature(Document):
    """One caught creature; a player's whole collection lives on one shard."""

    user_id = IntField(required=True)
    species = StringField(required=True)
    level = IntField(default=1)
    nickname = StringField()
    caught_at = DateTimeField(default=lambda: datetime.datetime.now(datetime.UTC))
    meta = {"collection": "creatures", "indexes": [("user_id", "species")]}


class Owner(EmbeddedDocument):
    player_id = IntField(db_field="pid", required=True)
    name = StringField()


@sharded(key=("owner.player_id", "box"), database="game",
         presplit=[{"owner.player_id": 1000}, {"owner.player_id": 2000}, {"owner.player_id": 3000}])
class StorageBox(Document):
    """Boxes of a player's storage PC, ranged by player so one player's boxes sit together."""

    owner = EmbeddedDocumentField(Owner, required=True)
    box = IntField(required=True, min_value=1)
    label = StringField()
    meta = {"collection": "boxes"}


class Trade(Document):
    """Trades between players, kept in the region where they happen (zones by region)."""

    region = StringField(required=True, choices=("ASIA", "EU", "US"))
    trade_id = IntField(required=True)
    offered = StringField()
    meta = {
        "collection": "trades",
        "shard_key": ("region", "trade_id"),
        "shard_database": "game",
        "shard_zones": [
            Zone("asia", min={"region": "ASIA"}, max={"region": "ASIA\x00"}, shards=("shard0",)),
            Zone("europe", min={"region": "EU"}, max={"region": "EU\x00"}, shards=("shard1",)),
        ],
    }
