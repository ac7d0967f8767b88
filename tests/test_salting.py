"""Salting a celebrity key on real shards: writes spread over the buckets, one read gathers them from K chunks."""

from __future__ import annotations

from collections import Counter

import pytest
from harness import HarnessRouter
from mongoengine import Document, IntField, StringField

from mongoshard import Salting, apply, sharded, spec_for

pytestmark = pytest.mark.mongod

posts = Salting("author_id", buckets=4)


@sharded(key=("salt", "author_id"), presplit=posts.split_points(), database="salted")
class Post(Document):
    salt = IntField(required=True)
    author_id = IntField(required=True)
    text = StringField()
    meta = {"collection": "posts"}

    def clean(self) -> None:
        posts.assign(self)


def test_salt_is_stable_and_even() -> None:
    post = Post(author_id=42, text="hello")
    post.validate()
    first = post.salt
    post.validate()
    assert post.salt == first and post._created, "assigned once; the document stays new for mongoengine"
    assert posts.salt_of(12345) == posts.salt_of(12345)
    spread = Counter(posts.salt_of(i) for i in range(4000))
    assert set(spread) == {0, 1, 2, 3} and min(spread.values()) > 900


def test_celebrity_writes_spread_and_one_read_gathers_them(cluster) -> None:
    spec = spec_for(Post)
    apply([spec], router=HarnessRouter(cluster))
    for bucket in range(4):  # more chunks than buckets: each bucket splits by author too
        cluster.split(spec.namespace, {"salt": bucket, "author_id": 1000})
    table = cluster.routing_table(spec.namespace)
    assert len(table.chunks) == 8

    celebrity_ids = set()
    for number in range(400):
        post = Post(author_id=42, text=f"post {number}")
        post.validate()
        document = post.to_mongo().to_dict()
        document["_id"] = number
        celebrity_ids.add(number)
        cluster.shard_clients[table.shard_for(document)].salted.posts.insert_one(document)
    for author in range(1000, 1100):
        post = Post(author_id=author, text="ordinary")
        post.validate()
        cluster.shard_clients[table.shard_for(post.to_mongo().to_dict())].salted.posts.insert_one(post.to_mongo().to_dict())

    per_bucket = Counter(doc["salt"] for client in cluster.shard_clients.values()
                         for doc in client.salted.posts.find({"author_id": 42}, {"salt": 1}))
    assert sorted(per_bucket) == [0, 1, 2, 3] and max(per_bucket.values()) < 0.35 * 400
    assert all(client.salted.posts.count_documents({"author_id": 42}) > 0 for client in cluster.shard_clients.values())

    query = posts.query(42)
    targeting = table.target(query)
    assert targeting.chunks == 4, targeting.reason  # 4 of 8 chunks: targeted, not broadcast
    gathered = {doc["_id"] for shard in targeting.shards for doc in cluster.shard_clients[shard].salted.posts.find(query)}
    assert gathered == celebrity_ids
