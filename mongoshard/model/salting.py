"""Salting a celebrity key: spread one hot key value's writes over K buckets, gather them in one targeted read.

A ranged shard key ``(salt, author_id)`` with the salt leading puts each
bucket in its own key range, pre-split one chunk per bucket.  Writes for one
author then land in K chunks instead of one; a read asks for the author in
every bucket (``salt: {$in: [0..K-1]}``), which the router targets to those K
ranges rather than broadcasting.

    posts = Salting("author_id", buckets=8)

    @sharded(key=("salt", "author_id"), presplit=posts.split_points())
    class Post(Document):
        salt = IntField(required=True)
        author_id = IntField(required=True)
        def clean(self):
            posts.assign(self)

    Post.objects(__raw__=posts.query(42))      # every post of author 42, from 8 chunks

The salt is chosen once per document and never changes (it is part of the
key): from the MongoDB hash of ``spread_by`` when the document has it (even
and reproducible), else at random (even).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ..errors import DeclarationError
from ..routing.hashing import hashed_value

__all__ = ["Salting"]


@dataclass(frozen=True)
class Salting:
    field: str  # the hot key field, e.g. "author_id"
    buckets: int = 8
    salt_field: str = "salt"
    spread_by: str | None = "id"  # the document attribute whose hash picks the bucket; None: random

    def __post_init__(self) -> None:
        for name in ("field", "salt_field"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise DeclarationError(f"Salting.{name} must be a field name, not {getattr(self, name)!r:.60}")
        if self.salt_field == self.field:
            raise DeclarationError(f"Salting.salt_field must differ from the hot field {self.field!r:.60}: the salt would "
                                   "overwrite the value it spreads; name it e.g. 'salt'")
        if self.spread_by is not None and (not isinstance(self.spread_by, str) or not self.spread_by):
            raise DeclarationError(f"Salting.spread_by must be an attribute name or None, not {self.spread_by!r:.60}")
        if not isinstance(self.buckets, int) or isinstance(self.buckets, bool) or self.buckets < 2:
            raise DeclarationError(f"salting needs a whole number of buckets, at least 2, not {self.buckets!r:.60}")

    def salt_of(self, spread_value: Any) -> int:
        """The bucket of a document, from the value it is spread by (MongoDB's hash, so even and stable)."""
        if spread_value is None:
            return random.randrange(self.buckets)
        return hashed_value(spread_value) % self.buckets

    def assign(self, document: Any) -> None:
        """Give a mongoengine document (or a dict) its salt, once; an existing salt is kept."""
        if not isinstance(document, dict) and not hasattr(document, "to_mongo"):
            raise DeclarationError(f"Salting.assign takes a mongoengine document or a dict, not {type(document).__name__}")
        if isinstance(document, dict):
            if document.get(self.salt_field) is None:
                document[self.salt_field] = self.salt_of(document.get("_id" if self.spread_by == "id" else self.spread_by or ""))
            return
        if getattr(document, self.salt_field, None) is None:
            # A new document has no id yet (setting one would make mongoengine treat it as saved): random bucket.
            spread = getattr(document, self.spread_by, None) if self.spread_by else None
            setattr(document, self.salt_field, self.salt_of(spread))

    def query(self, value: Any) -> dict[str, Any]:
        """The filter for every document of ``value``, across all buckets (database field names)."""
        return {self.salt_field: {"$in": list(range(self.buckets))}, self.field: value}

    def split_points(self) -> list[dict[str, int]]:
        """Pre-split points, one chunk per bucket (for ``@sharded(presplit=...)``)."""
        return [{self.salt_field: bucket} for bucket in range(1, self.buckets)]
