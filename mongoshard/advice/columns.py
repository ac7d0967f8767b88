"""A sample's key values in one pass and a few bytes a document: what ``simulate`` keeps instead of the documents.

Each key field becomes a column: a type bracket (one byte) and a payload per
document, typed when the field holds one kind of value (numbers as float64,
dates as milliseconds, strings and anything else interned); a hashed field is
hashed at the end, once per distinct value.  At the end a column turns into dense ranks in BSON order
(``routing.ordering``: the server compares by canonical type, then value), and
a key's ranks into one rank per document, which is all the simulation needs:
chunks cut between ranks, cardinality, frequencies and order.
"""

from __future__ import annotations

import datetime
from array import array
from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping, Sequence

import numpy as np
from bson import Int64, ObjectId

from ..errors import MongoshardError
from ..routing.hashing import hashed_dates, hashed_numbers, hashed_value
from ..routing.ordering import sort_key

__all__ = ["FieldColumn", "HashedColumn", "KeyRanks", "key_ranks", "SampleError"]

_MISSING = object()
_NULL, _NAN, _NUMBER, _STRING, _OBJECT_ID, _DATE, _OTHER = 5, 9, 10, 15, 35, 45, 0  # canonical type brackets
_EXACT_FLOAT = 2**53  # integers beyond this are not exact as float64
_EPOCH = datetime.datetime(1970, 1, 1)
_MILLISECOND = datetime.timedelta(milliseconds=1)
_UTC_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


class SampleError(MongoshardError):
    """The sample documents cannot be read or cannot be sharded."""


def _field_value(document: Mapping[str, Any], parts: Sequence[str]) -> Any:
    current: Any = document
    for part in parts:
        if type(current) is not dict and not isinstance(current, Mapping):  # the exact type first: far faster
            return current if isinstance(current, (list, tuple)) else _MISSING  # an array mid-path is refused
        current = current.get(part, _MISSING)
        if current is _MISSING:
            return _MISSING
    return current


def _milliseconds(value: datetime.datetime) -> int:
    # BSON dates are UTC milliseconds: values within one millisecond are equal on the server.
    if value.tzinfo is None:
        return (value - _EPOCH) // datetime.timedelta(milliseconds=1)
    return (value - _UTC_EPOCH) // datetime.timedelta(milliseconds=1)


class FieldColumn:
    """One key field's values over the sample, in insertion order."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.parts = path.split(".")
        self.single = len(self.parts) == 1
        self.codes = bytearray()
        self.mode: str | None = None  # number, date, string, oid or generic, set by the first non-null value
        self.payload: Any = None
        self.interned: dict[Any, int] = {}
        self.values: list[Any] = []  # interned originals (string and generic modes)
        self.ints_only = True

    def add(self, document: Mapping[str, Any], position: int) -> None:
        if self.single and type(document) is dict:
            value = document.get(self.path, _MISSING)
        else:
            value = _field_value(document, self.parts)
        if isinstance(value, (list, tuple)):
            # The server refuses an array anywhere on a shard key path (ShardKeyPattern::extractShardKeyFromDoc).
            raise SampleError(f"sample document {position + 1} holds an array on the key path '{self.path}'; "
                              "MongoDB refuses arrays in shard key fields: choose another key or fix the sample")
        if value is _MISSING:
            value = None
        if value is None:
            self.codes.append(_NULL)
            self._append_null()
            return
        kind = type(value)
        if self.mode is None:
            self._start(value)
        mode = self.mode
        if mode == "number" and (kind is float or kind is int and -_EXACT_FLOAT <= value <= _EXACT_FLOAT):
            if value != value:
                self.codes.append(_NAN)
                self.payload.append(0.0)
            else:
                self.codes.append(_NUMBER)
                self.payload.append(value)
                self.ints_only = self.ints_only and kind is int
        elif mode == "date" and kind is datetime.datetime:
            self.codes.append(_DATE)
            self.payload.append(_milliseconds(value))
        elif mode == "string" and kind is str:
            self.codes.append(_STRING)
            self.payload.append(self._intern(value, value))
        elif mode == "oid" and kind is ObjectId:
            self.codes.append(_OBJECT_ID)
            self.payload.extend(value.binary)
        else:
            if mode != "generic":
                self._to_generic()
            self.codes.append(_OTHER)
            self.payload.append(self._intern(_sort_key(value, self.path, position), value))

    def add_all(self, documents: Sequence[Mapping[str, Any]], first: int) -> None:
        """``add`` for each of ``documents`` (at positions from ``first``): the common case, a top-level field of a
        dict holding the column's one kind of value, in one tight loop (a third of simulate's time went to calling
        ``add`` per document and field), anything else through ``add``."""
        mode, path, codes, payload = self.mode, self.path, self.codes, self.payload
        if not self.single or mode not in ("number", "date", "string", "oid"):
            for offset, document in enumerate(documents):
                self.add(document, first + offset)
                if self.mode != mode:  # the first value set the mode: the rest can take the tight loop
                    return self.add_all(documents[offset + 1:], first + offset + 1)
            return
        code_append, payload_append, interned = codes.append, payload.append, self.interned
        floats = False
        for offset, document in enumerate(documents):
            if type(document) is dict:
                value: Any = document.get(path)
                kind = type(value)
                if mode == "date" and kind is datetime.datetime and value.tzinfo is None:
                    code_append(_DATE)
                    payload_append((value - _EPOCH) // _MILLISECOND)
                    continue
                if mode == "number" and (kind is float and value == value
                                         or kind is int and -_EXACT_FLOAT <= value <= _EXACT_FLOAT):
                    code_append(_NUMBER)
                    payload_append(value)
                    floats = floats or kind is float
                    continue
                if mode == "string" and kind is str and value in interned:
                    code_append(_STRING)
                    payload_append(interned[value])
                    continue
                if mode == "oid" and kind is ObjectId:
                    code_append(_OBJECT_ID)
                    payload.extend(value.binary)
                    continue
            self.add(document, first + offset)
            if self.mode != mode:  # a second kind of value: the column went generic
                break
        else:
            offset = len(documents)
        self.ints_only = self.ints_only and not floats
        if offset < len(documents):
            self.add_all(documents[offset + 1:], first + offset + 1)

    def _start(self, value: Any) -> None:
        kind = type(value)
        if kind in (int, float):
            self.mode, self.payload = "number", array("d")
        elif kind is datetime.datetime:
            self.mode, self.payload = "date", array("q")
        elif kind is str:
            self.mode, self.payload = "string", array("I")
        elif kind is ObjectId:
            self.mode, self.payload = "oid", bytearray()
        else:
            self.mode, self.payload = "generic", array("I")
        for _ in range(len(self.codes)):  # the nulls before the first value
            self._append_null()

    def _append_null(self) -> None:
        if self.mode is None:
            return
        if self.mode == "generic":  # ranked among the other values by its sort key (null is canonical type 5)
            self.payload.append(self._intern(sort_key(None), None))
        elif self.mode == "oid":
            self.payload.extend(bytes(12))
        else:
            self.payload.append(0)

    def _intern(self, identity: Any, value: Any) -> int:
        number = self.interned.get(identity)
        if number is None:
            number = self.interned[identity] = len(self.values)
            self.values.append(value)
        return number

    def _to_generic(self) -> None:
        """A second kind of value: every earlier value is re-read as a sort key (exact for every mode)."""
        earlier = [self._original(i) for i in range(len(self.codes))]
        self.mode, self.payload, self.interned, self.values = "generic", array("I"), {}, []
        self.codes = bytearray(_NULL if value is None else _OTHER for value in earlier)
        for position, value in enumerate(earlier):
            self.payload.append(self._intern(_sort_key(value, self.path, position), value))

    def _original(self, position: int) -> Any:
        code = self.codes[position]
        if code == _NULL:
            return None
        if code == _NAN:
            return float("nan")
        if self.mode == "number":
            number = self.payload[position]
            return int(number) if self.ints_only else number
        if self.mode == "date":
            return _EPOCH + datetime.timedelta(milliseconds=self.payload[position])
        if self.mode == "oid":
            return ObjectId(bytes(self.payload[12 * position: 12 * position + 12]))
        return self.values[self.payload[position]]

    def ranks(self) -> tuple[np.ndarray, np.ndarray]:
        """Dense ranks in BSON order (equal values, equal ranks; int32), and for each rank the first document holding
        it.  Temporaries are dropped as soon as they are used: at 10M documents each costs 40-80 MB."""
        codes = np.frombuffer(self.codes, dtype=np.uint8)
        if self.mode == "generic":  # the payload's ranks already hold the whole BSON order, nulls included
            codes = np.zeros_like(codes)
        payload = self._sortable_payload()
        order = np.lexsort((payload, codes)) if payload.ndim == 1 else _lexsort_bytes(payload, codes)
        return _dense(order, [codes, payload])

    def value_at(self, position: int) -> Any:
        """The value of the field in the document at ``position``."""
        return self._original(position)

    def _sortable_payload(self) -> np.ndarray:
        if self.mode is None:
            return np.zeros(len(self.codes), dtype=np.int64)
        if self.mode == "number":
            return np.frombuffer(self.payload, dtype=np.float64)
        if self.mode == "date":
            return np.frombuffer(self.payload, dtype=np.int64)
        if self.mode == "oid":
            return np.frombuffer(bytes(self.payload), dtype=np.uint8).reshape(-1, 12)
        # Interned values: the rank of each distinct value in BSON order (strings as UTF-8 bytes, by sort_key).
        by_order = sorted(range(len(self.values)), key=lambda i: _sort_key(self.values[i], self.path, i))
        rank_of = np.empty(len(self.values), dtype=np.int64)
        rank_of[by_order] = np.arange(len(self.values))
        return rank_of[np.frombuffer(self.payload, dtype=np.uint32)] if self.values else np.zeros(len(self.codes), np.int64)


class HashedColumn:
    """A hashed key field, from the field's values: each distinct value hashed once (MongoDB's hash, so values the
    server hashes alike, 2 and 2.5 included, are one key value), then ranked by hash."""

    def __init__(self, values: FieldColumn) -> None:
        self.values = values
        self.path = values.path

    def ranks(self) -> tuple[np.ndarray, np.ndarray]:
        value_ranks, firsts = self.values.ranks()
        hashes = self._hashes(firsts)
        per_document = hashes[value_ranks]
        del value_ranks
        return _dense(np.argsort(per_document, kind="stable"), [per_document])

    def _hashes(self, positions: np.ndarray) -> np.ndarray:
        """The hash of the value at each position; dates and numbers straight from the typed payload, in bulk."""
        values = self.values
        codes = np.frombuffer(values.codes, dtype=np.uint8)[positions] if len(positions) else np.zeros(0, np.uint8)
        bulk = {"date": (_DATE, hashed_dates), "number": (_NUMBER, hashed_numbers)}.get(values.mode or "")
        if bulk is not None and bool(np.all(codes == bulk[0])):
            payload = np.frombuffer(values.payload, dtype=np.int64 if values.mode == "date" else np.float64)[positions]
            hashes = np.empty(len(positions), dtype=np.int64)
            for start in range(0, len(positions), 1 << 16):  # blocks: few Python objects alive at once
                hashes[start:start + (1 << 16)] = bulk[1](payload[start:start + (1 << 16)].tolist())
            return hashes
        return np.fromiter((self._hash(int(position)) for position in positions), dtype=np.int64, count=len(positions))

    def value_at(self, position: int) -> Any:
        """The hash of the field in the document at ``position``, as chunk bounds hold it."""
        return Int64(self._hash(position))

    def _hash(self, position: int) -> int:
        try:
            return hashed_value(self.values.value_at(position))
        except ValueError as exc:  # UnhashableValueError
            raise SampleError(f"sample document {position + 1}: {exc}") from None


def _sort_key(value: Any, path: str, position: int) -> Any:
    try:
        return sort_key(value)
    except TypeError:
        raise SampleError(f"sample document {position + 1} holds {type(value).__name__} at '{path}', which is not a "
                          "BSON value") from None


def _lexsort_bytes(payload: np.ndarray, codes: np.ndarray) -> np.ndarray:
    return np.lexsort(tuple(payload[:, column] for column in range(payload.shape[1] - 1, -1, -1)) + (codes,))


def _dense(order: np.ndarray, keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Given the (stable) sorting permutation of some key arrays: dense ranks per document (int32) and the first
    document of each rank; equal keys stay in insertion order, as an index orders them by record id."""
    changed = np.zeros(max(len(order) - 1, 0), dtype=bool)
    for key in keys:
        in_order = key[order]
        step = in_order[1:] != in_order[:-1]
        changed |= step.any(axis=1) if step.ndim > 1 else step
        del in_order, step
    starts = np.concatenate(([True], changed)) if len(order) else np.zeros(0, dtype=bool)
    ranks = np.empty(len(order), dtype=np.int32)
    ranks[order] = np.cumsum(starts, dtype=np.int32) - 1
    return ranks, order[starts]


@dataclass(frozen=True)
class KeyRanks:
    """One candidate key over the sample: a dense rank per document in key order (equal key values, equal ranks)."""

    ranks: np.ndarray
    firsts: np.ndarray  # rank -> the first document (insertion position) with that key value
    columns: tuple[FieldColumn | HashedColumn, ...]

    @property
    def cardinality(self) -> int:
        return len(self.firsts)

    def value(self, rank: int) -> tuple[Any, ...]:
        """The key value of a rank, one entry per key field (the hash for a hashed field)."""
        position = int(self.firsts[rank])
        return tuple(column.value_at(position) for column in self.columns)


def key_ranks(columns: Sequence[FieldColumn | HashedColumn]) -> KeyRanks:
    """Combine the columns of a key's fields into one rank per document, ordered field by field."""
    per_field = [column.ranks() for column in columns]
    if len(per_field) == 1:
        return KeyRanks(per_field[0][0], per_field[0][1], tuple(columns))
    fields = [ranks for ranks, _ in per_field]
    del per_field
    order = np.lexsort(tuple(reversed(fields)))
    ranks, firsts = _dense(order, fields)
    return KeyRanks(ranks, firsts, tuple(columns))
