"""The balancer's settings as the server reads them (``config.settings``: ``balancer`` and ``chunksize``).

``BalancerSettingsType::fromBSON`` (``src/mongo/s/balancer_configuration.cpp``) and its unit tests
(``balancer_configuration_test.cpp``: BalancingWindowStartLessThanStop, BalancingWindowStopLessThanStart,
InvalidBalancingWindowStartEqualsStop, InvalidBalancingWindowTimeFormat, InvalidBalancerModeOption, ...):

* ``stopped: true`` is off; ``mode`` must be ``full`` or ``off``, anything else (a legacy ``autoSplitOnly``, a
  typo) turns the balancer off (warning 7575700: "Balancer turned off because currently set balancing mode is not
  valid");
* ``activeWindow {start, stop}`` holds two "H:MM" strings parsed with ``%d:%d`` ("9:00" is valid), start and stop
  different; a window that cannot be parsed makes the settings invalid; the current time is inside when
  ``start <= now <= stop`` (both ends included), wrapping past midnight when stop is before start;
* ``chunksize {value}`` is the default maximum chunk size in MB, 1 to 1024 (128 MB when absent).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping

__all__ = ["BalancerSettings", "read_balancer_settings", "in_window", "chunk_size_bytes", "DEFAULT_CHUNK_SIZE_BYTES"]

DEFAULT_CHUNK_SIZE_BYTES = 128 * 1024 * 1024  # ChunkSizeSettingsType::kDefaultMaxChunkSizeBytes
_TIME = re.compile(r"\s*(\d+):(\d+)")


@dataclass(frozen=True)
class BalancerSettings:
    mode: str  # "full" or "off", as the server reads the document
    window: tuple[int, int] | None = None  # start and stop, minutes after midnight
    problem: str | None = None  # why the server cannot read the document (it then keeps its last good settings)


def read_balancer_settings(document: Mapping[str, Any] | None) -> BalancerSettings:
    """The ``balancer`` settings document as ``BalancerSettingsType::fromBSON`` reads it."""
    document = document or {}
    mode = "off" if document.get("stopped") is True else str(document.get("mode", "full"))
    if mode not in ("full", "off"):
        mode = "off"  # 7575700: an invalid mode turns the balancer off
    window_document = document.get("activeWindow")
    if window_document is None:
        return BalancerSettings(mode)
    if not isinstance(window_document, Mapping) or set(window_document) != {"start", "stop"}:
        return BalancerSettings(mode, None, "activeWindow must be {start: \"H:MM\", stop: \"H:MM\"}")
    start, stop = _minutes(window_document.get("start")), _minutes(window_document.get("stop"))
    if start is None or stop is None:
        return BalancerSettings(mode, None, "activeWindow's start and stop must be times such as \"9:00\"")
    if start == stop:
        return BalancerSettings(mode, None, "activeWindow's start and stop must differ")
    return BalancerSettings(mode, (start, stop))


def _minutes(text: Any) -> int | None:
    """``%d:%d`` as boost's time parsing reads it: hours and minutes, "9:00" and "09:00" alike."""
    match = _TIME.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    return hours * 60 + minutes if hours < 24 and minutes < 60 else None


def in_window(settings: BalancerSettings, now: datetime.datetime | datetime.time) -> bool:
    """Whether ``now`` (the config server primary's clock) is inside the active window; always, without one."""
    if settings.window is None:
        return True
    start, stop = (minutes * 60 for minutes in settings.window)
    second = now.hour * 3600 + now.minute * 60 + now.second
    if start < stop:
        return start <= second <= stop
    return second >= start or second <= stop


def chunk_size_bytes(document: Mapping[str, Any] | None) -> int:
    """The ``chunksize`` setting in bytes (ChunkSizeSettingsType: 1 to 1024 MB); the default when absent or invalid."""
    value = (document or {}).get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 1024:
        return DEFAULT_CHUNK_SIZE_BYTES
    return int(value) * 1024 * 1024
