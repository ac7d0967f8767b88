"""A social feed with a celebrity: salting the author's key so one account does not own a shard.

Keyed on ``author_id`` alone, one celebrity's posts share one key value: a
chunk that can never split (jumbo) on one shard, taking a third of all writes.
Salting adds a ``salt`` in 0..K-1 before the author: a celebrity's posts spread
over K key ranges (here 16, pre-split, one chunk per bucket), and reading them is one
query for the author in every bucket, targeted to those K chunks.
"""

from __future__ import annotations

from mongoengine import DateTimeField, Document, IntField, StringField

from mongoshard import Salting, sharded

POSTS = Salting("author_id", buckets=16)


@sharded(key="author_id", database="feed")
class PostByAuthor(Document):
    """Without salting: the celebrity's posts pile onto one chunk."""

    author_id = IntField(required=True)
    text = StringField()
    posted_at = DateTimeField()
    meta = {"collection": "posts_by_author"}


@sharded(key=("salt", "author_id"), presplit=POSTS.split_points(), database="feed")
class Post(Document):
    """Salted: writes of one author spread over 16 buckets; ``Post.objects(__raw__=POSTS.query(author))`` reads them."""

    salt = IntField(required=True, min_value=0, max_value=POSTS.buckets - 1)
    author_id = IntField(required=True)
    text = StringField()
    posted_at = DateTimeField()
    meta = {"collection": "posts"}

    def clean(self) -> None:
        POSTS.assign(self)
