"""Hostile inputs against every command: an exit code scripts can rely on, one sentence, no traceback, no secret, nothing touched.

Each row is a command line a user (or an attacker) might type, with the files
and environment it needs.  For every row the table asserts the exit code, that
an error is exactly one line on stderr (warnings aside) carrying the expected
words, that no traceback and no secret appears in any output, and that no file
in the project directory changed, appeared or disappeared unless the command
succeeded in writing its own output.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cli_runner import TRACEBACK, invoke, tree_state

MODEL = "examples.pokemon_storage.models:Creature"
MODELS = "examples.pokemon_storage.models"
DOWN = "serverSelectionTimeoutMS=100"  # an unreachable server answers fast
SECRETS = ("s3cr3tpw", "alice:s3cr3tpw", "SESSIONTOKEN123", "KEYPASS123", "QUERYPW123", "pa/ss@wd", "s3cr3t/pw")


def _nested(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


def _and_nesting(levels: int) -> str:
    return '{"$and": [' * levels + '{"x": 1}' + "]}" * levels


FILES: dict[str, bytes | str | None] = {
    "binary.bin": b"\xff\xfe\x00\x81garbage",
    "latin1.yaml": "name: caf\xe9\n".encode("latin-1"),
    "latin1.json": '{"user_id": "caf\xe9"}'.encode("latin-1"),
    "empty.json": "",
    "dir.json": None,  # a directory
    "list.json": "[1, 2]",
    "filter_ok.json": '{"user_id": 7}',
    "deep.json": _nested(3000),
    "notsnapshot.json": '{"x": 1}',
    "badcollections.json": '{"collections": 5}',
    "badentries.json": '{"collections": [5]}',
    "badchunks.json": '{"collections": [{"namespace": "game.creatures", "key": {"user_id": "hashed"}, "chunks": [5]}]}',
    "badshards.json": '{"shards": "abc", "collections": []}',
    "badkey.json": '{"collections": [{"namespace": "game.creatures", "key": 7, "chunks": []}]}',
    "gapchunks.json": json.dumps({"collections": [{"namespace": "game.creatures", "key": {"user_id": "hashed"}, "chunks": [
        {"min": {"user_id": {"$minKey": 1}}, "max": {"user_id": 0}, "shard": "a"},
        {"min": {"user_id": 5}, "max": {"user_id": {"$maxKey": 1}}, "shard": "b"}]}]}),
    "foreign.yaml": "# my application's own compose file\nservices: {}\n",
    "foreign.svg": "<svg>my drawing</svg>",
    "foreign.json": '{"my": "data"}',
    "log_bad_line.jsonl": "{not json}\n",
    "log_shape_list.jsonl": '{"namespace": "a.b", "shape": [1]}\n',
    "log_bad_filter.jsonl": '{"namespace": "game.creatures", "shape": {"user_id": {"$in": 5}}}\n',
    "log_ok.jsonl": '{"namespace": "game.creatures", "operation": "find", "shape": {"user_id": "?int"}}\n',
    "sample_bad.jsonl": "{}\n{oops\n",
    "sample_list.jsonl": "[1]\n",
    "sample_oid.jsonl": '{"_id": {"$oid": "xyz"}}\n',
    "sample_empty.jsonl": "\n\n",
    "dot.yaml": "data_dir: .\n",
    "emptydir.yaml": "data_dir: ''\n",
    "root.yaml": "data_dir: /\n",
    "home.yaml": "data_dir: '~'\n",
    "parent.yaml": "data_dir: ..\n",
    "nulldir.yaml": "data_dir: null\n",
    "bomb.yaml": "a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n",
    "types.yaml": "shards: two\n",
    "ports.yaml": "base_port: 65530\nshards: 8\n",
    "listtop.yaml": "- shards\n",
    "unknown.yaml": "shard: 3\n",
    "badname.yaml": "name: My Cluster\n",
    "tab.yaml": "shards: 2\n\tauth: true\n",
    "boom_models.py": "raise RuntimeError('the application needs its settings module')\n",
    "exit_models.py": "import sys\nsys.exit(3)\n",
    "plain_models.py": "from mongoengine import Document, IntField\nclass Plain:\n    pass\nclass Unsharded(Document):\n    x = IntField()\n",
    "gens.py": ("def raises_midway():\n    yield {'a': 1}\n    raise ValueError('the feed broke')\n"
                "def yields_ints():\n    yield 5\n"
                "def exits():\n    import sys\n    sys.exit(4)\n    yield {}\n"
                "not_callable = 5\n"),
    "huge.yaml": "shards: 1000000000000\n",
    "deepname.yaml": "name: " + "[" * 20000 + "]" * 20000 + "\n",
    "nul.yaml": 'data_dir: "a\\0b"\n',
    "newline.yaml": 'data_dir: "st\\ninclude: [evil.yaml]\\n#"\n',
    "zerostate.yaml": "data_dir: zs\n",
    "emptypw.yaml": "data_dir: epw\n",
    "epw/data/cfgrs-0/WiredTiger": "data of a cluster that exists",
    "epw/keyfile": "A" * 64,
    "epw/admin-password": "",
    "dirkey.yaml": "data_dir: dk\n",
    "dk/keyfile": None,
    "foreignpurge.yaml": "data_dir: fp\n",
    "version810.yaml": "version: 8.10\n",
    "twice.yaml": "shards: 2\nshards: 3\n",
    "listkey.yaml": "? [a, b]\n: 1\n",
    "base60.yaml": "base_port: 10:30:00\n",
    "fp/keyfile": "the user's own file called keyfile",
    "fp/state.tmp": "the user's own notes",
    "log_deep.jsonl": json.dumps({"namespace": "a.b", "shape": json.loads(_nested(900))}) + "\n",
    "log_surrogate.jsonl": '{"namespace": "a.b", "shape": {"x": "\\ud800"}}\n',
    "snap_keykind.json": json.dumps({"collections": [{"namespace": "game.creatures", "key": {"user_id": None}, "chunks": [
        {"min": {"user_id": {"$minKey": 1}}, "max": {"user_id": {"$maxKey": 1}}, "shard": "a"}]}]}),
    "snap_otherkey.json": json.dumps({"collections": [{"namespace": "game.creatures", "key": {"species": 1}, "chunks": [
        {"min": {"species": {"$minKey": 1}}, "max": {"species": {"$maxKey": 1}}, "shard": "a"}]}]}),
    "snap_escape.json": json.dumps({"collections": [{"namespace": "\u001b[31mRED.x", "key": {"k": 1}, "chunks": [
        {"min": {"k": {"$minKey": 1}}, "max": {"k": {"$maxKey": 1}}, "shard": "a"}]}]}),
    "evil_models.py": ("import sys\nclass Weird(BaseException):\n    pass\nif sys.argv and False:\n    pass\n"
                       "raise Weird('weird')\n"),
    "genexit_models.py": "raise GeneratorExit\n",
    "kbint_models.py": "raise KeyboardInterrupt\n",
    "bigdoc.py": "def docs():\n    yield {'a': 1}\n    yield {'a': 2, 'blob': 'x' * (16 * 1024 * 1024)}\n",
    "secret_models.py": "raise RuntimeError('boom at import, password=hunter2secret')\n",
    "loud_models.py": ("print('[red]HELLO from import[/red]')\nfrom mongoengine import Document, IntField\n"
                       "from mongoshard import sharded\n@sharded(key='a', database='loud')\nclass Loud(Document):\n    a = IntField()\n"),
    "bad_gens.py": ("def int_keys():\n    yield {1: 'a'}\n"
                    "def huge():\n    yield {'a': 2**70}\n"
                    "def loud():\n    print('garbage on stdout')\n    for n in range(5):\n        yield {'a': n}\n"),
}


@dataclass(frozen=True)
class Case:
    name: str
    arguments: tuple[str, ...]
    code: int = 2
    says: str = ""  # words the one error line must hold (or stdout, for successes)
    env: dict[str, str] = field(default_factory=dict)
    stdin: bytes = b""
    writes: tuple[str, ...] = ()  # files a successful run may create or replace


def case(name: str, *arguments: str, code: int = 2, says: str = "", env: dict[str, str] | None = None,
         stdin: bytes = b"", writes: tuple[str, ...] = ()) -> Case:
    return Case(name, arguments, code, says, env or {}, stdin, writes)


CASES = [
    # Filters that are not JSON, not objects, or not filters: the server's own reasons.
    case("filter not json", "route", MODEL, "{user_id: 7", says="not valid (Extended) JSON"),
    case("filter empty", "route", MODEL, "", says="not valid (Extended) JSON"),
    case("filter array", "route", MODEL, "[1]", says="must be a JSON object"),
    case("filter number", "route", MODEL, "7", says="must be a JSON object"),
    case("filter string", "route", MODEL, '"x"', says="must be a JSON object"),
    case("filter null", "route", MODEL, "null", says="must be a JSON object"),
    case("$in not array", "route", MODEL, '{"x": {"$in": 5}}', says="$in needs an array"),
    case("$nin not array", "route", MODEL, '{"x": {"$nin": "a"}}', says="$nin needs an array"),
    case("$and object", "route", MODEL, '{"$and": {"x": 1}}', says="$and must be an array"),
    case("$or empty", "route", MODEL, '{"$or": []}', says="nonempty array"),
    case("$or entry scalar", "route", MODEL, '{"$or": [1]}', says="need to be full objects"),
    case("unknown top operator", "route", MODEL, '{"$foo": 1}', says="unknown top level operator: $foo"),
    case("unknown field operator", "route", MODEL, '{"x": {"$foo": 1}}', says="unknown operator: $foo"),
    case("operator then field", "route", MODEL, '{"x": {"$gt": 1, "y": 2}}', says="unknown operator: y"),
    case("$not empty", "route", MODEL, '{"x": {"$not": {}}}', says="$not cannot be empty"),
    case("$not scalar", "route", MODEL, '{"x": {"$not": 5}}', says="$not needs a regex or a document"),
    case("$all scalar", "route", MODEL, '{"x": {"$all": 5}}', says="$all needs an array"),
    case("$elemMatch scalar", "route", MODEL, '{"x": {"$elemMatch": 5}}', says="$elemMatch needs an Object"),
    case("$size negative", "route", MODEL, '{"x": {"$size": -1}}', says="non-negative"),
    case("$mod zero divisor", "route", MODEL, '{"x": {"$mod": [0, 1]}}', says="divisor cannot be 0"),
    case("$mod short", "route", MODEL, '{"x": {"$mod": [2]}}', says="not enough elements"),
    case("$type unknown alias", "route", MODEL, '{"x": {"$type": "integer"}}', says="Unknown type name alias: integer"),
    case("$type zero", "route", MODEL, '{"x": {"$type": 0}}', says="Invalid numerical type code"),
    case("$regex number", "route", MODEL, '{"x": {"$regex": 5}}', says="$regex has to be a string"),
    case("$options alone", "route", MODEL, '{"x": {"$options": "i"}}', says="$options needs a $regex"),
    case("$where number", "route", MODEL, '{"$where": 5}', says="$where got bad type"),
    case("$where on field", "route", MODEL, '{"x": {"$where": "1"}}', says="$where cannot be applied to a field"),
    case("$text scalar", "route", MODEL, '{"$text": 5}', says="$text expects an object"),
    case("$gt regex", "route", MODEL, '{"x": {"$gt": {"$regex": "a"}}}', says="Can't have RegEx"),
    case("$in nested operator", "route", MODEL, '{"x": {"$in": [{"$gt": 1}]}}', says="cannot nest $ under $in"),
    case("bad $oid", "route", MODEL, '{"_id": {"$oid": "xyz"}}', says="not valid (Extended) JSON"),
    case("bad $date", "route", MODEL, '{"d": {"$date": "yesterday"}}', says="not valid (Extended) JSON"),
    case("bad $numberLong", "route", MODEL, '{"d": {"$numberLong": "x"}}', says="not valid (Extended) JSON"),
    case("3000 levels inline", "route", MODEL, _nested(3000), says="nests deeper than MongoDB allows"),
    case("3000 levels from file", "route", MODEL, "@deep.json", says="nests deeper than MongoDB allows"),
    case("$and 150 deep", "route", MODEL, _and_nesting(150), says="MongoDB refuses more than 199"),
    case("filter file missing", "route", MODEL, "@missing.json", says="does not exist"),
    case("filter file directory", "route", MODEL, "@dir.json", says="is a directory"),
    case("filter file binary", "route", MODEL, "@binary.bin", says="is not UTF-8"),
    case("filter file latin-1", "route", MODEL, "@latin1.json", says="is not UTF-8"),
    case("filter file empty", "route", MODEL, "@empty.json", says="not valid (Extended) JSON"),
    case("filter stdin garbage", "route", MODEL, "-", stdin=b"\xff\xfe", says="is not UTF-8"),
    case("filter stdin not json", "route", MODEL, "-", stdin=b"{{", says="not valid (Extended) JSON"),
    case("filter from file works", "route", MODEL, "@filter_ok.json", code=0, says="single-shard"),
    case("filter from stdin works", "route", MODEL, "-", stdin=b'{"user_id": 7}', code=0, says="single-shard"),
    case("markup in a value is printed as written", "route", MODEL, '{"species": "[red]x[/]"}', code=0, says='"[red]x[/]"'),
    case("unbalanced markup is printed as written", "route", MODEL, '{"species": "[/]"}', code=0, says='"[/]"'),
    case("markup in a field name", "route", MODEL, '{"[bold]f": 1}', code=0, says='"[bold]f"'),
    case("emoji code stays text", "route", MODEL, '{"species": ":smile:"}', code=0, says=":smile:"),
    case("ansi escape in a value", "route", MODEL, '{"species": "\\u001b[31mred"}', code=0, says="scatter-gather"),
    case("json error mode", "route", MODEL, '{"x": {"$in": 5}}', "--json", says='"error": "$in needs an array"'),
    # Models and modules.
    case("target without colon", "route", MODELS, "{}", says="must be MODULE:MODEL"),
    case("target empty", "route", "", "{}", says="must be MODULE:MODEL"),
    case("target three parts", "route", "a:b:c", "{}", says="Cannot import module 'a'"),
    case("module missing", "keys", "no_such_module_xyz", says="Cannot import module 'no_such_module_xyz'"),
    case("module raises at import", "keys", "boom_models", says="RuntimeError: the application needs its settings module"),
    case("module calls sys.exit", "keys", "exit_models", says="SystemExit"),
    case("class missing", "route", f"{MODELS}:Nope", "{}", says="has no class 'Nope'"),
    case("class not a document", "route", "plain_models:Plain", "{}", says="is not a mongoengine Document"),
    case("document without key", "route", "plain_models:Unsharded", "{}", says="declares no shard key"),
    case("module name with markup", "keys", "[red]x", says="'[red]x' is not a dotted module name"),
    case("advise module raising", "advise", "boom_models", says="RuntimeError"),
    case("apply module missing", "apply", "no_such_module_xyz", "--dry-run", says="Cannot import module"),
    case("alias without a database", "keys", MODELS, "--alias", "users", says="must be NAME=DATABASE"),
    case("alias to an invalid database name", "keys", MODELS, "--alias", "users=a.b", says="must be NAME=DATABASE"),
    case("one of two modules missing", "keys", MODELS, "no_such_module_xyz", says="Cannot import module 'no_such_module_xyz'"),
    case("candidate for a collection the app lacks", "advise", MODELS, "--key", 'game.nope={"a": 1}', says="no Document of the application is stored in 'nope'"),
    case("candidate without a namespace", "advise", MODELS, "--key", '{"a": 1}', says="must be NAMESPACE=KEY_JSON"),
    case("candidate key not JSON", "advise", MODELS, "--key", "game.creatures={a", says="write it like"),
    case("a secret in the URI's database", "keys", MODELS, "--json", code=0, says='"namespace": "game.boxes"',
         env={"MONGOSHARD_URI": "mongodb://u:s3cr3tpw@127.0.0.1:1/app"}),
    # Candidate keys.
    case("key not json", "simulate", "gens:raises_midway", "--key", "{x", says="not valid (Extended) JSON"),
    case("key array", "simulate", "gens:raises_midway", "--key", "[1]", says="must be a JSON object"),
    case("key empty", "simulate", "gens:raises_midway", "--key", "{}", says="names no field"),
    case("key direction 2", "simulate", "gens:raises_midway", "--key", '{"a": 2}', says='must be 1 or "hashed"'),
    case("key descending", "simulate", "gens:raises_midway", "--key", '{"a": -1}', says='must be 1 or "hashed"'),
    case("key two hashed", "simulate", "gens:raises_midway", "--key", '{"a": "hashed", "b": "hashed"}', says="only one field"),
    case("key dollar field", "simulate", "gens:raises_midway", "--key", '{"$a": 1}', says="cannot be a shard key field"),
    case("key empty field", "simulate", "gens:raises_midway", "--key", '{"": 1}', says="cannot be a shard key field"),
    case("audit candidate without namespace", "audit", "log_ok.jsonl", "--key", '{"a": 1}', says="must be NAMESPACE=KEY_JSON"),
    case("audit candidate without dot", "audit", "log_ok.jsonl", "--key", 'game={"a": 1}', says="must be NAMESPACE=KEY_JSON"),
    case("audit candidate bad key", "audit", "log_ok.jsonl", "--key", "game.c={oops", says="not valid (Extended) JSON"),
    # Samples and generators.
    case("sample missing", "simulate", "missing.jsonl", "--key", '{"a": 1}', says="does not exist"),
    case("sample directory", "simulate", "dir.json", "--key", '{"a": 1}', says="is a directory"),
    case("sample binary", "simulate", "binary.bin", "--key", '{"a": 1}', says="is not UTF-8"),
    case("sample bad line", "simulate", "sample_bad.jsonl", "--key", '{"a": 1}', says="line 2 is not valid (Extended) JSON"),
    case("sample non-document line", "simulate", "sample_list.jsonl", "--key", '{"a": 1}', says="line 1 must be a JSON object, not list"),
    case("sample bad $oid", "simulate", "sample_oid.jsonl", "--key", '{"a": 1}', says="line 1 is not valid (Extended) JSON"),
    case("sample without documents", "simulate", "sample_empty.jsonl", "--key", '{"a": 1}', says="the sample holds no documents"),
    case("generator raises midway", "simulate", "gens:raises_midway", "--key", '{"a": 1}', says="raised ValueError after 1 document(s): the feed broke"),
    case("generator yields ints", "simulate", "gens:yields_ints", "--key", '{"a": 1}', says="yielded '5' (int) as document 1"),
    case("generator exits", "simulate", "gens:exits", "--key", '{"a": 1}', says="raised SystemExit"),
    case("generator not callable", "simulate", "gens:not_callable", "--key", '{"a": 1}', says="is not a function"),
    case("generator missing", "simulate", "gens:nothing_here", "--key", '{"a": 1}', says="has no function 'nothing_here'"),
    case("generator module raising", "simulate", "boom_models:f", "--key", '{"a": 1}', says="RuntimeError"),
    case("sample neither", "simulate", "nothing-like-this", "--key", '{"a": 1}', says="neither a file"),
    case("collection without server", "simulate", "--collection", "a.b", "--key", '{"a": 1}', says="needs the server's URI"),
    case("simulate nothing named", "simulate", "--key", '{"a": 1}', says="name the sample"),
    # Snapshots.
    case("snapshot missing", "route", MODEL, "{}", "-t", "missing.json", says="does not exist"),
    case("snapshot directory", "route", MODEL, "{}", "-t", "dir.json", says="is a directory"),
    case("snapshot binary", "route", MODEL, "{}", "-t", "binary.bin", says="is not UTF-8"),
    case("snapshot list", "route", MODEL, "{}", "-t", "list.json", says="must be a JSON object"),
    case("snapshot not ours", "route", MODEL, "{}", "-t", "notsnapshot.json", says="is not a mongoshard snapshot"),
    case("snapshot collections number", "route", MODEL, "{}", "-t", "badcollections.json", says="no 'collections' list"),
    case("snapshot entry number", "route", MODEL, "{}", "-t", "badentries.json", says="must be a document"),
    case("snapshot chunk number", "route", MODEL, "{}", "-t", "badchunks.json", says="a chunk needs 'min' and 'max' documents and a 'shard' name"),
    case("snapshot shards string", "route", MODEL, "{}", "-t", "badshards.json", says="'shards' must be a list"),
    case("snapshot key number", "route", MODEL, "{}", "-t", "badkey.json", says="needs a 'namespace' string"),
    case("snapshot with a gap", "route", MODEL, "{}", "-t", "gapchunks.json", says="gap or overlap"),
    case("balance snapshot not ours", "balance", "--snapshot", "notsnapshot.json", says="is not a mongoshard snapshot"),
    # Query logs.
    case("log missing", "audit", "missing.jsonl", says="does not exist"),
    case("log directory", "audit", "dir.json", says="is a directory"),
    case("log binary", "audit", "binary.bin", says="is not UTF-8"),
    case("log bad line", "advise", MODELS, "--audit", "log_bad_line.jsonl", says="line 1: not a query record"),
    case("log shape not a document", "audit", "log_shape_list.jsonl", says="line 1: not a query record"),
    case("log shape not a filter", "audit", "log_bad_filter.jsonl", "--key", 'game.creatures={"user_id": 1}', code=0, says="unknown"),
    # Topology files.
    case("topology missing", "status", "-f", "mongoshrd.yaml", says="the topology file mongoshrd.yaml does not exist"),
    case("topology directory", "status", "-f", "dir.json", says="is a directory"),
    case("topology binary", "status", "-f", "binary.bin", says="is not UTF-8"),
    case("topology latin-1", "down", "-f", "latin1.yaml", says="is not UTF-8"),
    case("topology alias bomb", "status", "-f", "bomb.yaml", says="aliases (*name) are not allowed"),
    case("topology tab", "status", "-f", "tab.yaml", says="is not valid YAML at line"),
    case("topology wrong type", "status", "-f", "types.yaml", says="'shards' must be a whole number"),
    case("topology ports past 65535", "compose", "-f", "ports.yaml", "-o", "-", says="ports run past 65535"),
    case("topology a list", "status", "-f", "listtop.yaml", says="must be a mapping of settings"),
    case("topology unknown setting", "up", "-f", "unknown.yaml", says="unknown setting(s) shard"),
    case("topology bad name", "compose", "-f", "badname.yaml", says="'name' must be lowercase"),
    case("data_dir dot", "down", "-f", "dot.yaml", "--purge", says="is the project directory or contains it"),
    # Issue 18: YAML's float and a setting given twice
    case("version 8.10 is not 8.1", "compose", "-f", "version810.yaml", "-o", "-", code=0, says="mongo:8.10"),
    case("a setting given twice", "compose", "-f", "twice.yaml", "-o", "-", says="the setting 'shards' is given twice"),
    case("a list as a setting's name", "compose", "-f", "listkey.yaml", "-o", "-", says="a setting's name must be a word"),
    case("a base-60 port", "compose", "-f", "base60.yaml", "-o", "-", says="'base_port' must be a whole number, not '10:30:00'"),
    case("collation caseFirst at strength 1", "route", MODEL, "{}", "--collation", '{"locale": "fr", "strength": 1, "caseFirst": "upper"}', says="needs caseLevel: true or a strength of 3"),
    case("collation empty variant", "route", MODEL, "{}", "--collation", '{"locale": "fr@collation="}', says="is not one MongoDB supports"),
    case("empty --server-version", "route", MODEL, "{}", "--server-version", "", says="--server-version must be a MongoDB version"),
    case("a sample document over 16 MiB", "simulate", "bigdoc:docs", "--key", '{"a": 1}', says="over the 16 MiB MongoDB stores"),
    case("empty --plot name", "simulate", "examples.pokemon_storage.data:creatures", "--limit", "10", "--key", '{"user_id": 1}', "--plot", "", says="cannot plot to ''"),
    case("data_dir empty", "down", "-f", "emptydir.yaml", "--purge", says="is the project directory or contains it"),
    case("data_dir root", "down", "-f", "root.yaml", "--purge", says="contains it"),
    case("data_dir home", "down", "-f", "home.yaml", "--purge", says="is your home directory or contains it"),
    case("data_dir parent", "up", "-f", "parent.yaml", says="is the project directory or contains it"),
    case("data_dir null", "status", "-f", "nulldir.yaml", says="'data_dir' must be text, not None"),
    # Outputs.
    case("compose over a foreign file", "compose", "-o", "foreign.yaml", says="exists and was not written by mongoshard"),
    case("compose to a directory", "compose", "-o", "dir.json", says="it is a directory"),
    case("compose into a missing directory", "compose", "-o", "nowhere/compose.yaml", says="does not exist"),
    case("compose under a file", "compose", "-o", "binary.bin/compose.yaml", says="does not exist"),
    case("compose to stdout writes nothing", "compose", "-o", "-", code=0, says="services:"),
    case("snapshot over a foreign file", "snapshot", "foreign.json", "--uri", f"mongodb://127.0.0.1:1/?{DOWN}", says="foreign.json exists and was not written by mongoshard"),
    case("snapshot into a directory", "snapshot", "dir.json", "--uri", f"mongodb://127.0.0.1:1/?{DOWN}", says="it is a directory"),
    case("plot to an unknown suffix", "simulate", "examples.sensors.data:readings", "--key", '{"a": 1}', "--plot", "x.txt", says="use a file name ending in .svg or .html"),
    case("plot over a foreign file", "simulate", "examples.sensors.data:readings", "--key", '{"a": 1}', "--plot", "foreign.svg", says="foreign.svg exists and was not written by mongoshard"),
    case("balance plot over a foreign file", "balance", "--snapshot", "x.json", "--plot", "foreign.svg", says="foreign.svg exists and was not written by mongoshard"),
    case("plot written then replaced", "simulate", "examples.sensors.data:readings", "--limit", "500", "--key", '{"sensor_id": 1}', "--plot", "new.svg", code=0, says="sensor_id", writes=("new.svg",)),
    case("init over an existing file", "init", "-f", "foreign.yaml", says="already exists"),
    # Options that contradict each other.
    case("-t with --shards", "route", MODEL, "{}", "-t", "x.json", "--shards", "3", says="--routing-table and --shards cannot be used together"),
    case("--snapshot with --uri", "balance", "--snapshot", "x.json", "--uri", "mongodb://h/", says="--snapshot and --uri cannot be used together"),
    case("--snapshot with -f", "balance", "--snapshot", "x.json", "-f", "m.yaml", says="--snapshot and -f/--file cannot be used together"),
    case("--uri with -f", "status", "--uri", "mongodb://h/", "-f", "m.yaml", says="--uri and -f/--file cannot be used together"),
    case("-t with --server-version", "route", MODEL, "{}", "-t", "x.json", "--server-version", "9.0", says="-t/--routing-table and --server-version cannot be used together"),
    case("server version too old", "route", MODEL, "{}", "--server-version", "3.6", says="--server-version must be a MongoDB version from 4.4 on"),
    case("database with a dot", "keys", "--database", "a.b", "examples.pokemon_storage.models", says="--database 'a.b' holds a character MongoDB refuses"),
    case("server version with a leading zero", "route", MODEL, "{}", "--server-version", "08.0", says="--server-version must be a MongoDB version"),
    case("server version not a version", "route", MODEL, "{}", "--server-version", "latest", says="--server-version must be"),
    case("collation without locale", "route", MODEL, "{}", "--collation", '{"strength": 2}', says='a collation needs a "locale" string'),
    # Issue 18: collations the real mongod refuses (tests/test_collation_real.py checks the rule against it)
    case("collation locale unknown", "route", MODEL, "{}", "--collation", '{"locale": "xx"}', says="collation locale 'xx' is not one MongoDB supports"),
    case("collation SIMPLE", "route", MODEL, "{}", "--collation", '{"locale": "SIMPLE"}', says="'simple' is lower case"),
    case("collation strength 0", "route", MODEL, "{}", "--collation", '{"locale": "fr", "strength": 0}', says="strength must be from 1 to 5"),
    case("collation strength 6", "route", MODEL, "{}", "--collation", '{"locale": "fr", "strength": 6}', says="strength must be from 1 to 5"),
    case("collation strength as text", "route", MODEL, "{}", "--collation", '{"locale": "fr", "strength": "2"}', says="strength must be a number"),
    case("collation unknown field", "route", MODEL, "{}", "--collation", '{"locale": "fr", "foo": 1}', says="collation field 'foo' is unknown"),
    case("collation caseFirst", "route", MODEL, "{}", "--collation", '{"locale": "fr", "caseFirst": "x"}', says="caseFirst must be one of upper, lower, off"),
    case("collation alternate", "route", MODEL, "{}", "--collation", '{"locale": "fr", "alternate": "x"}', says="alternate must be one of"),
    case("collation NUL locale", "route", MODEL, "{}", "--collation", '{"locale": "e\\u0000n"}', says="holds a NUL byte"),
    case("collation not json", "route", MODEL, "{}", "--collation", "fr", says="--collation is not valid (Extended) JSON"),
    case("collation a list", "route", MODEL, "{}", "--collation", "[]", says="--collation must be a JSON object"),
    case("sample with a routing table", "route", MODEL, "{}", "--sample", "sample_bad.jsonl", "-t", "x.json",
         says="-t/--routing-table and --sample cannot be used together"),
    case("sample that is not there", "route", MODEL, "{}", "--sample", "nosuch.jsonl", says="does not exist"),
    case("sample with a bad line", "route", MODEL, "{}", "--sample", "sample_bad.jsonl", says="line 2 is not valid (Extended) JSON"),
    case("sample with a server version", "route", MODEL, "{}", "--sample", "sample_bad.jsonl", "--server-version", "8.0",
         says="--sample and --server-version cannot be used together"),
    case("-t with --uri", "explain", MODEL, "{}", "-t", "x.json", "--uri", "mongodb://h/", says="cannot be used together"),
    case("--compose with --bin-dir", "up", "--compose", "--bin-dir", "/tmp", says="--compose and --bin-dir cannot be used together"),
    case("-o without --compose", "up", "-o", "c.yaml", says="use them with --compose"),
    case("apply --uri with -f", "apply", MODELS, "--uri", "mongodb://h/", "-f", "m.yaml", says="--uri and -f/--file cannot be used together"),
    case("simulate source and --uri", "simulate", "a.jsonl", "--uri", "mongodb://h/", "--key", '{"a": 1}', says="SOURCE and --uri cannot be used together"),
    # Numbers out of range and usage errors.
    case("shards zero", "route", MODEL, "{}", "--shards", "0", says="--shards"),
    case("shards huge", "route", MODEL, "{}", "--shards", "1000000000", says="--shards"),
    case("shards not a number", "route", MODEL, "{}", "--shards", "two", says="--shards"),
    case("limit negative", "simulate", "gens:raises_midway", "--key", '{"a": 1}', "--limit", "-5", says="--limit"),
    case("timeout zero", "up", "--timeout", "0", says="--timeout"),
    case("top zero", "audit", "log_ok.jsonl", "--top", "0", says="--top"),
    case("max imbalance below one", "balance", "--max-imbalance", "0.5", says="--max-imbalance"),
    case("unknown option", "keys", MODELS, "--frobnicate", says="No such option"),
    case("unknown command", "frobnicate", says="No such command"),
    case("missing argument", "route", MODEL, says="Missing argument"),
    case("debug flag anywhere", "route", MODEL, "{", "--debug", says="not valid (Extended) JSON"),
    # Binaries.
    case("MONGOSHARD_MONGOD points at nothing", "up", env={"MONGOSHARD_MONGOD": "/nonexistent/mongod"}, says="$MONGOSHARD_MONGOD is /nonexistent/mongod"),
    case("MONGOSHARD_BIN_DIR points at nothing", "up", env={"MONGOSHARD_BIN_DIR": "/nonexistent"}, says="$MONGOSHARD_BIN_DIR is /nonexistent"),
    case("--bin-dir without mongod", "up", "--bin-dir", "dir.json", says="No executable mongod in dir.json"),
    # URIs: malformed, unreachable, and full of secrets that must never be printed.
    case("uri garbage", "balance", "--uri", "not a uri", says="a MongoDB URI starts with mongodb://"),
    case("uri without scheme but with a password", "balance", "--uri", "u:s3cr3tpw@127.0.0.1:1", says="'***@127.0.0.1:1' cannot be used"),
    case("uri bad port", "balance", "--uri", "mongodb://h:notaport/", says="cannot be used"),
    # Issue 18: the "@" lost, the password runs into the host
    case("uri without its @", "balance", "--uri", "mongodb://alice:s3cr3tpw127.0.0.1:40102", says="'mongodb://***' cannot be used"),
    case("MONGOSHARD_URI without its @", "status", env={"MONGOSHARD_URI": "mongodb://alice:s3cr3tpw127.0.0.1:40102/db"}, says="mongodb://***/db"),
    case("uri password with slash", "balance", "--uri", f"mongodb://u:s3cr3t/pw@127.0.0.1:1/?{DOWN}", says="cannot be used"),
    case("uri password with @", "balance", "--uri", f"mongodb://u:pa/ss@wd@127.0.0.1:1/?{DOWN}", says="cannot be used"),
    case("uri unreachable with password", "balance", "--uri", f"mongodb://u:s3cr3tpw@127.0.0.1:1/?{DOWN}", says="Cannot reach mongodb://***@127.0.0.1:1/"),
    case("uri password option", "status", "--uri", f"mongodb://127.0.0.1:1/?{DOWN}&password=QUERYPW123", says="Cannot reach"),
    case("uri aws session token", "balance", "--uri", f"mongodb://AKIA:s3cr3tpw@127.0.0.1:1/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:SESSIONTOKEN123&{DOWN}", says="Cannot reach"),
    case("uri tls key password", "balance", "--uri", f"mongodb://127.0.0.1:1/?tls=true&tlsCertificateKeyFile=/nonexistent.pem&tlsCertificateKeyFilePassword=KEYPASS123&{DOWN}", says="cannot be used"),
    case("uri bad tls option", "balance", "--uri", f"mongodb://u:s3cr3tpw@127.0.0.1:1/?tls=maybe&{DOWN}", says="mongodb://***@"),
    case("uri srv that does not resolve", "balance", "--uri", "mongodb+srv://u:s3cr3tpw@nonexistent.invalid/", says="cannot be used"),
    case("MONGOSHARD_URI unreachable", "status", env={"MONGOSHARD_URI": f"mongodb://u:s3cr3tpw@127.0.0.1:1/?{DOWN}"}, says="Cannot reach mongodb://***@"),
    case("MONGOSHARD_URI for apply", "apply", MODELS, env={"MONGOSHARD_URI": f"mongodb://u:s3cr3tpw@127.0.0.1:1/?{DOWN}"}, says="Cannot reach"),
    case("MONGOSHARD_URI garbage", "snapshot", "out.json", env={"MONGOSHARD_URI": "mongodb://u:s3cr3t/pw@h:x/"}, says="cannot be used"),
    case("uri in json error mode", "balance", "--uri", f"mongodb://u:s3cr3tpw@127.0.0.1:1/?{DOWN}", "--json", says='"error": "Cannot reach'),
    # State files of a local cluster.
    case("state.json not json", "status", says="state.json is damaged"),
    case("state.json is /dev/zero", "status", "-f", "zerostate.yaml", says="is a device, not a file"),
    case("empty admin password beside data", "up", "-f", "emptypw.yaml", says="admin-password is empty"),
    case("keyfile is a directory", "compose", "-f", "dirkey.yaml", "-o", "c.yaml", says="keyfile is a directory"),
    case("purge without a record of what is ours", "down", "-f", "foreignpurge.yaml", "--purge", says="holds no record of what mongoshard created"),
    # Regressions of a hostile tester's findings (1,110 inputs).
    case("topology of a trillion shards", "compose", "-f", "huge.yaml", "-o", "-", says="'shards' must be at most 1024"),
    case("topology nested 20,000 deep", "status", "-f", "deepname.yaml", says="nests too deeply"),
    case("NUL in data_dir", "compose", "-f", "nul.yaml", "-o", "-", says="must not hold control characters"),
    case("newline in data_dir injects yaml", "compose", "-f", "newline.yaml", "-o", "-", says="must not hold control characters"),
    case("simulate limit past sys.maxsize", "simulate", "gens:raises_midway", "--key", '{"a": 1}', "--limit", str(10**30), says="--limit"),
    case("timeout nan", "up", "--timeout", "nan", says="--timeout"),
    case("timeout beyond a day", "up", "--timeout", "1e12", says="--timeout must be a number of seconds"),
    case("max imbalance infinite", "balance", "--snapshot", "x.json", "--max-imbalance", "inf", says="--max-imbalance must be"),
    case("filter from /dev/zero", "route", MODEL, "@/dev/zero", says="is a device, not a file"),
    case("filter larger than 16 MiB on stdin", "route", MODEL, "-", stdin=b" " * (16 * 1024**2 + 1), says="holds more than 16,777,216 bytes"),
    case("sample from /dev/zero", "simulate", "/dev/zero", "--key", '{"a": 1}', says="is a device, not a file"),
    case("snapshot named by a uri", "balance", "--snapshot", "mongodb://admin:s3cr3tpw@db.example.com:27017/", says="does not exist"),
    case("filter file named by a uri", "route", MODEL, "@mongodb://admin:s3cr3tpw@h:1/", says="does not exist"),
    case("sample named by a mangled uri", "simulate", "mongodb:/admin:s3cr3tpw@h:1", "--key", '{"a": 1}', says="cannot import 'mongodb'"),
    case("module raising its own BaseException", "keys", "evil_models", says="Importing 'evil_models' failed with Weird"),
    case("module raising GeneratorExit", "keys", "genexit_models", says="failed with GeneratorExit"),
    case("module raising KeyboardInterrupt", "keys", "kbint_models", says="failed with KeyboardInterrupt"),
    case("secret in a user exception", "keys", "secret_models", says="password=***"),
    case("module printing at import keeps json clean", "keys", "loud_models", "--json", code=0, says='"namespace": "loud.loud"'),
    case("generator printing keeps json clean", "simulate", "bad_gens:loud", "--key", '{"a": 1}', "--json", code=0, says='"documents": 5'),
    case("generator with int keys", "simulate", "bad_gens:int_keys", "--key", '{"a": 1}', says="cannot be stored in MongoDB"),
    case("generator with a 70-bit integer", "simulate", "bad_gens:huge", "--key", '{"a": 1}', says="cannot be stored in MongoDB"),
    case("signalling NaN on a hashed key", "route", MODEL, '{"user_id": {"$numberDecimal": "sNaN"}}', code=0, says="single-shard"),
    case("signalling NaN on a ranged key", "route", f"{MODELS}:StorageBox", '{"owner.pid": {"$numberDecimal": "sNaN"}}', code=0, says="owner.pid"),
    case("signalling NaN as $size", "route", MODEL, '{"x": {"$size": {"$numberDecimal": "sNaN"}}}', says="found NaN"),
    case("lone surrogate in a filter", "route", MODEL, '{"user_id": "\\ud800"}', says="not a document MongoDB can receive"),
    case("integer past 64 bits in a filter", "route", MODEL, '{"user_id": 18446744073709551616}', says="not a document MongoDB can receive"),
    case("audit shape 900 deep", "audit", "log_deep.jsonl", says="line 1: not a query record"),
    case("audit shape with a lone surrogate", "audit", "log_surrogate.jsonl", says="line 1: not a query record"),
    case("snapshot key kind null", "balance", "--snapshot", "snap_keykind.json", says="a shard key field is 1 or \"hashed\""),
    case("snapshot key differs from the declaration", "route", MODEL, "{}", "-t", "snap_otherkey.json", code=0, says="single-shard"),
    case("escape in a snapshot namespace", "balance", "--snapshot", "snap_escape.json", code=0, says="\\x1b[31mRED.x"),
    case("escape in a module name", "keys", "\x1b[31mevil", says="\\x1b[31mevil"),
    case("dangling symlink as the plot", "balance", "--snapshot", "gapchunks.json", "--plot", "dangling.svg", says="is a symbolic link mongoshard did not create"),
    case("fifo as the compose file", "compose", "-o", "fifo.yaml", says="not a regular file"),
    # Issue 18: init over a dangling symbolic link it did not create
    case("dangling symlink as the topology init writes", "init", "-f", "dangling.yaml", says="is a symbolic link mongoshard did not create"),
    case("/dev/zero as the compose file", "compose", "-o", "/dev/zero", says="not a regular file"),
    case("empty compose file name", "compose", "-o", "", says="the file name is empty"),
    # A NUL byte cannot reach argv, but it can reach the library and in-process callers (found by the property test).
    case("NUL in the query log name", "audit", "q\x00.jsonl", says="holds a NUL byte"),
    case("NUL in the topology name", "status", "-f", "t\x00.yaml", says="holds a NUL byte"),
    case("NUL in the plot name", "simulate", "examples.pokemon_storage.data:creatures", "--limit", "10", "--key", '{"a": 1}', "--plot", "p\x00.svg", says="holds a NUL byte"),
    case("warnings join the one error line", "balance", "--uri", f"mongodb://u:s3cr3tpw@127.0.0.1:1/?tls=maybe&{DOWN}", says="(warning: "),
    case("simulate uses --uri", "simulate", "--uri", f"mongodb://127.0.0.1:1/?{DOWN}", "--collection", "a.b", "--key", '{"a": 1}', says="Cannot reach"),
]
STATE_FILES = {
    "state.json not json": b"{oops",
}


def lay_out_project(tmp_path: Path, row: Case) -> None:
    """The files every row may name, plus the state file a row is about."""
    for name, content in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.mkdir(exist_ok=True)
        else:
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
    (tmp_path / "broken_link.json").symlink_to(tmp_path / "nowhere")
    (tmp_path / "dangling.svg").symlink_to("/nonexistent/dir/y.svg")
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    os.mkfifo(tmp_path / "fifo.yaml")
    (tmp_path / "zs").mkdir()
    (tmp_path / "zs" / "state.json").symlink_to("/dev/zero")
    if row.name in STATE_FILES:
        (tmp_path / ".mongoshard").mkdir(exist_ok=True)
        (tmp_path / ".mongoshard" / "state.json").write_bytes(STATE_FILES[row.name])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A scratch project; the models and generators a row imported are forgotten afterwards."""
    yield tmp_path
    for module in [m for m in sys.modules if m in ("gens", "bad_gens", "plain_models", "boom_models", "exit_models", "loud_models")]:
        del sys.modules[module]


def test_the_table_is_large_and_unique() -> None:
    assert len(CASES) >= 100 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("row", CASES, ids=[c.name for c in CASES])
def test_hostile_input(project: Path, row: Case) -> None:
    lay_out_project(project, row)
    before = tree_state(project)
    outcome = invoke(row.arguments, cwd=project, env=row.env, stdin=row.stdin)
    everything = outcome.stdout + outcome.stderr
    assert outcome.code == row.code, (outcome.code, outcome.stderr[-500:])
    assert TRACEBACK not in everything
    for secret in SECRETS:
        assert secret not in everything, f"{secret!r} was printed"
    if row.code == 0:
        assert row.says in outcome.stdout
        if "--json" in row.arguments:
            json.loads(outcome.stdout)  # nothing but JSON on stdout
    else:
        (line,) = outcome.error_lines  # exactly one sentence, warnings aside
        if "--json" in row.arguments:
            assert json.loads(line)["exit_code"] == row.code and row.says in line
        else:
            assert line.startswith("mongoshard: ") and row.says in line, line
    after = tree_state(project)
    assert {k: v for k, v in after.items() if k not in row.writes} == {k: v for k, v in before.items() if k not in row.writes}
