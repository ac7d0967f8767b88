"""The routing core, pure: BSON order, hashing, index bounds, routing tables, initial chunk layouts.

Nothing here does I/O or holds a client, and nothing imports from the layers
above (model, cluster, deploy, reports, advice, cli), so the same code answers
live, from a snapshot, or predicted offline.
"""
