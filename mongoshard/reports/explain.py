"""Which shards a query reaches and how each one runs it: live, from the shards, and predicted.

Three readings, one report:

* **live**: the router's ``explain`` (needs a mongos);
* **from the shards**: each targeted shard's own ``explain``, where no router
  exists (the merge stage is then inferred from the number of shards);
* **predicted**: ``RoutingTable.target`` on the routing table of any source.

Where a live or shard reading and a prediction both exist, a disagreement is
flagged.  ``parse_explain`` reads the explain shapes of MongoDB 6.0, 7.0 and
8.0: classic stage trees, slot-based plans (``queryPlan`` beside
``slotBasedPlan``), ``queryHash`` or ``planCacheShapeHash``, ``queryShapeHash``,
and aggregation explains with ``shards`` keyed by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Iterator, Mapping, Sequence

from ..cluster.live import ConfigDatabaseSource
from ..cluster.source import ClusterSource
from ..errors import MongoshardError
from ..routing.table import RoutingTable, Targeting, key_text
from ..routing.writes import Write, WriteTargeting, target_write

__all__ = ["explain", "explain_query", "parse_explain", "ParsedExplain", "ShardPlan", "ExplainReport", "ExplainError"]

_INDEX_SCANS = {"IXSCAN", "EXPRESS_IXSCAN", "COUNT_SCAN", "DISTINCT_SCAN", "ixseek", "ixscan"}
_ID_LOOKUPS = {"IDHACK", "EXPRESS_IDHACK", "CLUSTERED_IXSCAN"}
_COLLECTION_SCANS = {"COLLSCAN", "scan"}


class ExplainError(MongoshardError):
    """An explain document of a shape this parser does not know."""


@dataclass(frozen=True)
class ShardPlan:
    shard: str
    plan: str  # "index scan {k: 1}", "collection scan", "_id lookup", "no documents (EOF)", ...
    stages: tuple[str, ...]  # root to leaf of the winning plan
    engine: str  # "classic" or "sbe"
    keys_examined: int | None = None
    docs_examined: int | None = None
    returned: int | None = None


@dataclass(frozen=True)
class ParsedExplain:
    merge_stage: str  # SINGLE_SHARD, SHARD_MERGE, SHARD_MERGE_SORT, ... or the root stage of one server's plan
    shards: tuple[ShardPlan, ...]
    query_shape_hash: str | None = None
    plan_cache_hash: str | None = None  # queryHash (before 8.0) or planCacheShapeHash (8.0)

    @property
    def shard_names(self) -> tuple[str, ...]:
        return tuple(sorted(plan.shard for plan in self.shards))


@dataclass(frozen=True)
class ExplainReport:
    namespace: str
    filter: dict[str, Any]
    predicted: Targeting
    live: ParsedExplain | None  # through a router
    from_shards: ParsedExplain | None  # each shard's own explain, without a router
    disagreement: str | None
    write: WriteTargeting | None = None  # with a write: where a router of its release sends it


def parse_explain(document: Mapping[str, Any], shard: str | None = None) -> ParsedExplain:
    """A router's (or one server's, named ``shard``) explain output, in one shape for every version."""
    if isinstance(document.get("shards"), Mapping):
        return _parse_aggregate(document)
    planner = document.get("queryPlanner")
    if not isinstance(planner, Mapping) or not isinstance(planner.get("winningPlan"), Mapping):
        raise ExplainError("not an explain document: it has no queryPlanner.winningPlan; pass the output of explain()")
    winning = planner["winningPlan"]
    executed = document.get("executionStats") or {}
    if "shards" in winning:
        stats = {entry.get("shardName"): entry for entry in executed.get("executionStages", {}).get("shards", [])}
        plans = tuple(_shard_plan(entry["shardName"], entry["winningPlan"], stats.get(entry["shardName"], {}))
                      for entry in winning["shards"])
        first = winning["shards"][0] if winning["shards"] else {}
        return ParsedExplain(winning["stage"], plans, document.get("queryShapeHash"), _plan_hash(first))
    plan = _shard_plan(shard or _server_name(document), winning, executed)
    return ParsedExplain(plan.stages[0], (plan,), document.get("queryShapeHash"), _plan_hash(planner))


def _parse_aggregate(document: Mapping[str, Any]) -> ParsedExplain:
    plans: list[ShardPlan] = []
    for name, entry in document["shards"].items():
        cursor = next((stage["$cursor"] for stage in entry.get("stages", []) if "$cursor" in stage), entry)
        parsed = parse_explain(cursor, name)
        plans.extend(parsed.shards)
    merge = document.get("mergeType", "SHARD_MERGE")
    stage = "SINGLE_SHARD" if len(plans) == 1 else {"mongos": "SHARD_MERGE", "primaryShard": "SHARD_MERGE"}.get(merge, merge)
    return ParsedExplain(stage, tuple(plans), document.get("queryShapeHash"))


def _plan_hash(entry: Mapping[str, Any]) -> str | None:
    return entry.get("planCacheShapeHash") or entry.get("queryHash")


def _server_name(document: Mapping[str, Any]) -> str:
    info = document.get("serverInfo") or {}
    return f"{info['host']}:{info['port']}" if "host" in info else "server"


def _shard_plan(shard: str, winning: Mapping[str, Any], stats: Mapping[str, Any]) -> ShardPlan:
    tree = winning.get("queryPlan", winning)
    engine = "sbe" if "slotBasedPlan" in winning else "classic"
    return ShardPlan(shard, _describe(tree), tuple(_chain(tree)), engine,
                     stats.get("totalKeysExamined"), stats.get("totalDocsExamined"), stats.get("nReturned"))


def _chain(stage: Mapping[str, Any]) -> Iterator[str]:
    """Stage names from the root down the first input."""
    while stage:
        yield stage.get("stage", "?")
        children = _children(stage)
        stage = children[0] if children else {}


def _children(stage: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if "inputStage" in stage:
        return [stage["inputStage"]]
    return list(stage.get("inputStages", [])) + ([stage["outerStage"], stage["innerStage"]] if "outerStage" in stage else [])


def _leaves(stage: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    children = _children(stage)
    if not children:
        yield stage
    for child in children:
        yield from _leaves(child)


def _describe(tree: Mapping[str, Any]) -> str:
    parts = []
    for leaf in _leaves(tree):
        name = leaf.get("stage", "?")
        if name in _COLLECTION_SCANS:
            parts.append("collection scan")
        elif name in _ID_LOOKUPS:
            parts.append("_id lookup")
        elif name in _INDEX_SCANS:
            pattern = leaf.get("keyPattern")
            # 8.0's express stages print the pattern as text, e.g. '{ user_id: 1 }'.
            text = pattern if isinstance(pattern, str) else key_text(pattern) if pattern else leaf.get("indexName", "")
            parts.append(f"index scan {text}")
        elif name == "EOF":
            parts.append("no documents (EOF)")
        else:
            parts.append(name)
    return " + ".join(dict.fromkeys(parts))


def explain_query(namespace: str, filter_document: Mapping[str, Any], source: ClusterSource, *,
                  client: Any = None, sort: Sequence[tuple[str, int]] | None = None,
                  shard_options: Mapping[str, Any] | None = None, write: Write | None = None,
                  server_version: tuple[int, int] = (8, 0)) -> ExplainReport:
    """Predicted targeting from ``source``, plus live plans through ``client``: a router's, else each shard's own.

    With ``write`` (its filter is ``filter_document``), also where a router of ``server_version`` sends the write; the
    plans are then the filter's, on the shards the write reaches: the plan each shard's write stage runs."""
    table = source.routing_table(namespace)
    predicted = table.target(filter_document)
    routed = None
    if write is not None:
        routed = target_write(table, write, server_version, cluster_shards=[shard.name for shard in source.shards()])
    live = from_shards = None
    if client is not None:
        if _is_router(client):
            live = parse_explain(client[namespace.split(".", 1)[0]].command(_explain_command(namespace, filter_document, sort)))
        else:
            reached = routed.shards if routed is not None and routed.shards else predicted.shards
            from_shards = _from_shards(namespace, filter_document, sort, reached, source, shard_options or {})
    return ExplainReport(namespace, dict(filter_document), predicted, live, from_shards, _disagreement(predicted, live, table),
                         routed)


def _explain_command(namespace: str, filter_document: Mapping[str, Any], sort: Sequence[tuple[str, int]] | None) -> dict[str,
                                                                                                                         Any]:
    from bson import SON

    find: dict[str, Any] = {"find": namespace.split(".", 1)[1], "filter": dict(filter_document)}
    if sort:
        find["sort"] = SON(list(sort))
    return SON([("explain", SON(find)), ("verbosity", "executionStats")])


def _is_router(client: Any) -> bool:
    return client.admin.command("hello").get("msg") == "isdbgrid"


def _from_shards(namespace: str, filter_document: Mapping[str, Any], sort: Sequence[tuple[str, int]] | None,
                 reached: Sequence[str], source: ClusterSource, shard_options: Mapping[str, Any]) -> ParsedExplain:
    """Each reached shard's own explain: what a router would have asked of it."""
    from ..cluster.connection import reading_shard, shard_client

    hosts = {shard.name: shard.host for shard in source.shards()}
    plans: list[ShardPlan] = []
    for shard in reached:
        with shard_client(hosts.get(shard) or "", **shard_options) as client, reading_shard(shard, hosts.get(shard)):
            reply = client[namespace.split(".", 1)[0]].command(_explain_command(namespace, filter_document, sort))
        plans.extend(parse_explain(reply, shard).shards)
    merge = "SINGLE_SHARD" if len(plans) == 1 else ("SHARD_MERGE_SORT" if sort else "SHARD_MERGE")
    return ParsedExplain(merge, tuple(plans))


def _disagreement(predicted: Targeting, live: ParsedExplain | None, table: RoutingTable) -> str | None:
    if live is None or set(live.shard_names) == set(predicted.shards):
        return None
    return (f"the router reached {', '.join(live.shard_names)} but the routing table predicts {', '.join(predicted.shards)}: "
            "the table may be stale (take a new snapshot) or the query uses a collation or operator the prediction "
            f"does not model (key {table.key})")


def explain(queryset: Any, *, source: ClusterSource | None = None) -> ExplainReport:
    """Explain a mongoengine QuerySet: predicted from the cluster's routing table, live through its connection."""
    collection = queryset._document._get_collection()
    client = collection.database.client
    filter_document = queryset._query
    sort = list(queryset._ordering or []) or None
    return explain_query(collection.full_name, filter_document, source or ConfigDatabaseSource(client), client=client, sort=sort)
