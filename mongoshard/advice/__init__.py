"""The advice layer, for before sharding: shard key advice and the what-if simulation of candidate keys."""
