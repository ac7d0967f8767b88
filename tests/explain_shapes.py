"""Router explain documents shaped as MongoDB's documentation shows them for 6.0, 7.0 and 8.0.

Trimmed to the fields the documentation describes (explain results page of
each version); the values are invented, the structure is the documented one.
"""

from __future__ import annotations


def _shard_entry(shard: str, winning: dict, **extra) -> dict:
    return {"shardName": shard, "connectionString": f"{shard}/{shard}-0:27019",
            "serverInfo": {"host": f"{shard}-0", "port": 27019, "version": extra.pop("version", "6.0.5")},
            "namespace": "game.creatures", "indexFilterSet": False, "parsedQuery": extra.pop("parsed", {}),
            **extra, "winningPlan": winning, "rejectedPlans": []}


def _shard_stats(shard: str, returned: int, keys: int, docs: int, stages: dict) -> dict:
    return {"shardName": shard, "executionSuccess": True, "nReturned": returned, "executionTimeMillis": 1,
            "totalKeysExamined": keys, "totalDocsExamined": docs, "executionStages": stages}


# 6.0, classic engine, an equality on the hashed key: one shard.
V6_SINGLE_SHARD = {
    "explainVersion": "1",
    "queryPlanner": {"mongosPlannerVersion": 1, "winningPlan": {"stage": "SINGLE_SHARD", "shards": [
        _shard_entry("shard1", {"stage": "FETCH", "filter": {"user_id": {"$eq": 7}}, "inputStage": {
            "stage": "SHARDING_FILTER", "inputStage": {
                "stage": "IXSCAN", "keyPattern": {"user_id": "hashed"}, "indexName": "user_id_hashed",
                "isMultiKey": False, "direction": "forward",
                "indexBounds": {"user_id": ["[-5664071479929735011, -5664071479929735011]"]}}}},
            parsed={"user_id": {"$eq": 7}}, queryHash="6F1E7A22", planCacheKey="5A0D3B11"),
    ]}},
    "executionStats": {"nReturned": 4, "executionTimeMillis": 2, "totalKeysExamined": 4, "totalDocsExamined": 4,
                       "executionStages": {"stage": "SINGLE_SHARD", "nReturned": 4, "shards": [
                           _shard_stats("shard1", 4, 4, 4, {"stage": "FETCH", "nReturned": 4})]}},
    "serverInfo": {"host": "mongos-0", "port": 27017, "version": "6.0.5"},
    "ok": 1.0,
}

# 7.0, slot-based engine (explainVersion 2), a filter without the key: every shard, collection scans.
V7_SBE_BROADCAST = {
    "explainVersion": "2",
    "queryPlanner": {"mongosPlannerVersion": 1, "winningPlan": {"stage": "SHARD_MERGE", "shards": [
        _shard_entry(shard, {
            "queryPlan": {"stage": "SHARDING_FILTER", "planNodeId": 2, "inputStage": {
                "stage": "COLLSCAN", "planNodeId": 1, "filter": {"species": {"$eq": "pikachu"}}, "direction": "forward"}},
            "slotBasedPlan": {"slots": "$$RESULT=s7 env: { s2 = Nothing (SEARCH_META) }",
                              "stages": "[2] filter {shardFilter(s3, s6)} \n[1] scan s6 s7 none none none none"}},
            version="7.0.2", parsed={"species": {"$eq": "pikachu"}}, queryHash="0E4F9A12", planCacheKey="33B1C2D4")
        for shard in ("shard0", "shard1", "shard2")
    ]}},
    "executionStats": {"nReturned": 9, "executionTimeMillis": 5, "totalKeysExamined": 0, "totalDocsExamined": 3000,
                       "executionStages": {"stage": "SHARD_MERGE", "nReturned": 9, "shards": [
                           _shard_stats(shard, returned, 0, 1000, {"stage": "filter", "planNodeId": 2, "inputStage": {
                               "stage": "scan", "planNodeId": 1}})
                           for shard, returned in (("shard0", 2), ("shard1", 3), ("shard2", 4))]}},
    "serverInfo": {"host": "mongos-0", "port": 27017, "version": "7.0.2"},
    "ok": 1.0,
}

# 8.0: queryShapeHash at the top, planCacheShapeHash instead of queryHash, express index scans, a sort merged.
V8_MERGE_SORT = {
    "explainVersion": "1",
    "queryShapeHash": "A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90",
    "queryPlanner": {"mongosPlannerVersion": 1, "winningPlan": {"stage": "SHARD_MERGE_SORT", "shards": [
        _shard_entry(shard, {"isCached": False, "stage": "SORT", "sortPattern": {"level": -1}, "inputStage": {
            "stage": "SHARDING_FILTER", "inputStage": {"stage": "FETCH", "inputStage": {
                "stage": "IXSCAN", "keyPattern": {"owner.pid": 1, "box": 1}, "indexName": "owner.pid_1_box_1",
                "indexBounds": {"owner.pid": ["[1200, 1800)"], "box": ["[MinKey, MaxKey]"]}}}}},
            version="8.0.4", parsed={"owner.pid": {"$gte": 1200, "$lt": 1800}},
            planCacheShapeHash="7C1D2E3F", planCacheKey="9A8B7C6D")
        for shard in ("shard0", "shard1")
    ]}},
    "executionStats": {"nReturned": 30, "executionTimeMillis": 3, "totalKeysExamined": 30, "totalDocsExamined": 30,
                       "executionStages": {"stage": "SHARD_MERGE_SORT", "nReturned": 30, "shards": [
                           _shard_stats("shard0", 12, 12, 12, {"stage": "SORT"}),
                           _shard_stats("shard1", 18, 18, 18, {"stage": "SORT"})]}},
    "ok": 1.0,
}

# 8.0 express path: an _id-like equality on a unique index answered without the planner.
V8_EXPRESS = {
    "explainVersion": "1",
    "queryShapeHash": "0F1E2D3C4B5A69788796A5B4C3D2E1F00F1E2D3C4B5A69788796A5B4C3D2E1F0",
    "queryPlanner": {"mongosPlannerVersion": 1, "winningPlan": {"stage": "SINGLE_SHARD", "shards": [
        _shard_entry("shard0", {"isCached": False, "stage": "EXPRESS_IXSCAN", "keyPattern": "{ user_id: 1 }",
                                "indexName": "user_id_1"},
                     version="8.0.4", parsed={"user_id": {"$eq": 7}}, planCacheShapeHash="11223344")]}},
    "ok": 1.0,
}

# An aggregation through the router: shards keyed by name, each with its $cursor stage.
AGGREGATE_SPLIT = {
    "mergeType": "mongos",
    "splitPipeline": {"shardsPart": [{"$match": {"species": "pikachu"}}, {"$group": {"_id": "$user_id"}}],
                      "mergerPart": [{"$mergeCursors": {}}, {"$group": {"_id": "$_id"}}]},
    "shards": {
        shard: {"host": f"{shard}-0:27019", "explainVersion": "1", "stages": [
            {"$cursor": {"queryPlanner": {"namespace": "game.creatures", "winningPlan": {
                "stage": "PROJECTION_SIMPLE", "inputStage": {"stage": "COLLSCAN", "direction": "forward"}}},
                "executionStats": {"nReturned": 5, "totalKeysExamined": 0, "totalDocsExamined": 100}}},
            {"$group": {"_id": "$user_id"}}]}
        for shard in ("shard0", "shard1")
    },
    "ok": 1.0,
}
