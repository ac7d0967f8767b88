"""An account service sharded on ``user_id`` (its writes and most reads carry it), which must keep ``email`` unique
across shards and log users in by email: a unique lookup on ``email``, and a plain one on ``phone`` for support
searches (not routed: a scatter-gather is fine for a rare query).

    User(user_id=7, email="ada@example.com").save()     # NotUniqueError when another user holds that email
    User.objects.get(email="ada@example.com")           # two targeted reads: the lookup, then shard of user 7
"""

import mongoengine as me

from mongoshard import Lookup, sharded

me.register_connection("accounts", db="accounts")


@sharded(key=("user_id",), strategy="hashed", lookups=[Lookup("email", unique=True), Lookup("phone")])
class User(me.Document):
    user_id = me.IntField(required=True)
    email = me.StringField()
    phone = me.StringField()
    name = me.StringField()
    meta = {"collection": "users", "db_alias": "accounts"}


def login(email: str) -> User | None:
    """The login path: one lookup read and one owner read, each on one shard."""
    return User.objects(email=email.strip().lower()).first()
