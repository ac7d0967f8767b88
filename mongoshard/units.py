"""Sizes as people read them, shared by the reports, the advice and the command line."""

from __future__ import annotations

__all__ = ["size_text"]


def size_text(value: float | None) -> str:
    """Bytes in binary units (KiB, MiB, GiB: MongoDB's chunksize counts 1024s); "-" when unknown."""
    if value is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return str(value)
