"""How a sharded collection's key can become the declared one: only commands the server would accept, by version.

* ``refineCollectionShardKey`` (4.4+) when the declared key extends the
  current one with suffix fields and keeps its uniqueness; no data moves.
* ``reshardCollection`` (5.0+) for any other key, except a unique one:
  ``_configsvrReshardCollection`` refuses ``unique: true`` ("The unique field
  must be false", configsvr_reshard_collection_cmd.cpp).
* ``unshardCollection`` (8.0+) then ``shardCollection``, for a unique key or
  one that only uniqueness separates from the current key; before 8.0 a unique
  key means copying into a new collection.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

from ..model.declaration import ShardSpec
from ..routing.table import key_text

__all__ = ["key_items", "drift_message", "REFINE_SINCE", "RESHARD_SINCE", "UNSHARD_SINCE"]

REFINE_SINCE, RESHARD_SINCE, UNSHARD_SINCE = (4, 4), (5, 0), (8, 0)


def key_items(key: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """A key pattern comparable across sources: 1, 1.0 and Int64(1) are the same direction."""
    return [(name, kind if isinstance(kind, str) else int(kind)) for name, kind in key.items()]


def drift_message(spec: ShardSpec, current_key: Mapping[str, Any], current_unique: bool, version: tuple[int, int]) -> str | None:
    """Why the collection differs from its declaration and which command changes it; None when they agree."""
    have, want = key_items(current_key), key_items(spec.key_pattern)
    if have == want and current_unique == spec.unique:
        return None
    declared = key_text(spec.key_pattern) + (" (unique)" if spec.unique else "")
    current = key_text(current_key) + (" (unique)" if current_unique else "")
    prefix = f"{spec.namespace} is sharded on {current} but declared with {declared}"
    extends = len(want) > len(have) and want[: len(have)] == have
    if extends and current_unique == spec.unique and version >= REFINE_SINCE:
        return (f"{prefix}; the declared key extends the current one, so refineCollectionShardKey "
                f"(after creating an index on {key_text(spec.key_pattern)}) can change it without moving data")
    if not spec.unique and version >= RESHARD_SINCE:
        return f"{prefix}; only reshardCollection (MongoDB 5.0+) can change it, which rewrites the collection"
    if version >= UNSHARD_SINCE:
        return (f"{prefix}; reshardCollection refuses a unique key, so unshardCollection (8.0+) and then shardCollection "
                "with the declared key are the way, which moves the data twice")
    return (f"{prefix}; reshardCollection refuses a unique key and unshardCollection needs 8.0, so copy the data into a "
            "new collection sharded with the declared key")
