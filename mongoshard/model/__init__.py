"""The model layer: shard keys declared on mongoengine Documents, discovery, salting."""
