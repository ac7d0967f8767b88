"""The one exception family the CLI turns into a clear sentence and an exit code."""

from __future__ import annotations

import re

__all__ = ["MongoshardError", "DeclarationError", "redact_uri"]


class MongoshardError(Exception):
    """Bad input or an unreachable cluster: the message says what is wrong and how to fix it."""


class DeclarationError(MongoshardError):
    """A shard key declaration that MongoDB would reject or that cannot be resolved."""


_CREDENTIALS = re.compile(r"(mongodb(?:\+srv)?://)[^@/\s]+@")


def redact_uri(text: str) -> str:
    """Hide the user and password of every MongoDB URI in ``text``."""
    return _CREDENTIALS.sub(r"\1***@", text)
