"""The index bounds of a regular expression on a shard key field, byte for byte as the server builds them.

``regex_prefix`` is the server's ``analyze_regex::getRegexPrefixMatch``
(``src/mongo/db/query/analyze_regex.cpp``; inline in ``IndexBoundsBuilder::
simpleRegex`` before 7.0, the same rules), and ``regex_bounds`` its
``IndexBoundsBuilder::translateRegex`` (``index_bounds_builder.cpp``): a
prefix gives the string range [prefix, prefix with its last byte + 1), no
prefix gives every string, and the regex value itself is always added as a
point (a BSON regex value sorts after the strings).  The server works on the
UTF-8 bytes of the pattern, so this does too.

Two rules of the server drop strings the regex matches (the router, and any
index scan on the key, then miss them; checked on a real mongod):
``/^ab{0}/`` is bounded by "ab" although it matches "a" (a ``{`` quantifier
keeps the character before it), and ``/^aé?/`` by "a" plus the first byte of
"é" (``?`` and ``*`` drop one byte, not one character).  ``server_misses``
names these cases so that reports can say so.
"""

from __future__ import annotations

import re
from typing import Any

from bson import Regex

from .intervals import FieldBounds, Interval, point, unionize
from .ordering import EMPTY_OBJECT, sort_key

__all__ = ["as_regex", "regex_flags", "regex_prefix", "regex_bounds", "server_misses"]

_LETTER_FLAGS = ((re.IGNORECASE, "i"), (re.LOCALE, "l"), (re.MULTILINE, "m"), (re.DOTALL, "s"), (re.UNICODE, "u"),
                 (re.VERBOSE, "x"))
_METACHARACTERS = b"^$.[()+{"
_ZERO_MINIMUM = re.compile(rb"\{0+(,\d*)?\}")  # {0}, {0,}, {0,n}: a quantifier in every PCRE the server used


def as_regex(value: Regex[Any] | re.Pattern[Any]) -> Regex[Any]:
    return value if isinstance(value, Regex) else Regex.from_native(value)


def regex_flags(value: Regex[Any] | re.Pattern[Any]) -> str:
    """The option letters the driver sends: bson.Regex keeps them as re flags (an int), not as the string."""
    flags = as_regex(value).flags
    if isinstance(flags, str):
        return flags
    # A compiled Python pattern always carries re.UNICODE, so pymongo sends /.../u: the server then uses no prefix.
    return "".join(letter for flag, letter in _LETTER_FLAGS if flags & flag)


def regex_prefix(pattern: str, flags: str) -> bytes:
    """The literal prefix every match starts with, as the server decides it (b"" when it uses none)."""
    return _scan(pattern.encode("utf-8", "surrogatepass"), flags)[0]


def _scan(text: bytes, flags: str) -> tuple[bytes, int]:
    """(prefix, index of the metacharacter the scan stopped at, or -1): getRegexPrefixMatch, step by step."""
    if text.startswith(b"\\A"):
        multiline_ok, position = True, 2
    elif text.startswith(b"^"):
        multiline_ok, position = False, 1
    else:
        return b"", -1
    if _may_have_unescaped_pipe(text[position:]):
        return b"", -1
    for flag in flags:
        if flag == "m" and not multiline_ok or flag not in "msx":
            return b"", -1
    extended = "x" in flags
    prefix = bytearray()
    while position < len(text):
        byte = text[position:position + 1]
        position += 1
        if byte in (b"*", b"?"):
            return bytes(prefix[:-1]), position - 1  # the last byte, not character, becomes optional
        if byte == b"\\":
            escaped = text[position:position + 1]
            position += 1
            if escaped == b"Q":  # \Q...\E quotes everything inside
                end = text.find(b"\\E", position)
                end = len(text) if end < 0 else end
                prefix += text[position:end]
                position = end + 2
            elif not escaped or escaped.isalnum() and escaped.isascii() or escaped == b"\0":
                return bytes(prefix), -1
            else:
                prefix += escaped
        elif byte in _METACHARACTERS or extended and byte == b"#":
            return bytes(prefix), position - 1
        elif not (extended and byte in b" \t\n\v\f\r"):
            prefix += byte
    return bytes(prefix), -1


def _may_have_unescaped_pipe(text: bytes) -> bool:
    """analyze_regex.cpp stringMayHaveUnescapedPipe: a '|' not preceded by exactly one backslash (false positives
    inside [...] and \\Q...\\E are the server's own)."""
    for index in range(len(text)):
        if text[index:index + 1] != b"|":
            continue
        before = text[index - 1:index] if index >= 1 else b""
        before_that = text[index - 2:index - 1] if index >= 2 else b""
        if before != b"\\" or before_that == b"\\":
            return True
    return False


def regex_bounds(value: Any) -> FieldBounds:
    """IndexBoundsBuilder::translateRegex: the prefix's string range (or every string), plus the regex value."""
    regex = as_regex(value)
    prefix = regex_prefix(regex.pattern, regex_flags(regex))
    regex_point = point(sort_key(Regex(regex.pattern, regex_flags(regex))))
    if not prefix:
        return unionize([Interval((15, b""), EMPTY_OBJECT, True, False), regex_point])
    upper = prefix[:-1] + bytes([prefix[-1] + 1])
    return unionize([Interval((15, prefix), (15, upper), True, False), regex_point])


def server_misses(value: Any) -> str | None:
    """Why the server's prefix leaves out strings the regex matches, or None when it does not."""
    regex = as_regex(value)
    flags = regex_flags(regex)
    text = regex.pattern.encode("utf-8", "surrogatepass")
    prefix, stop = _scan(text, flags)
    if not prefix:
        return None
    try:
        shown = prefix.decode("utf-8")
    except UnicodeDecodeError:
        return (f"MongoDB bounds /{regex.pattern}/{flags} by a prefix that ends inside a character (? and * make one "
                "byte optional, not one character): the router and index scans miss the strings without that character")
    if text[stop:stop + 1] == b"{" and _ZERO_MINIMUM.match(text, stop):
        return (f"MongoDB bounds /{regex.pattern}/{flags} by the prefix {shown!r}, but the quantifier after it has minimum 0 "
                "and makes its last character optional: the router and index scans miss the strings without it; write "
                "the optional part as (?:...)? instead")
    return None
