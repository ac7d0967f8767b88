"""The balancer's settings as the server reads them: MongoDB's own unit tests (balancer_configuration_test.cpp, 8.0-era
and older revisions) as data, and a real config server read end to end."""

from __future__ import annotations

import datetime

import pytest

from mongoshard.routing.balancer_settings import (DEFAULT_CHUNK_SIZE_BYTES, chunk_size_bytes, in_window,
                                                  read_balancer_settings)


def at(hours: int, minutes: int) -> datetime.datetime:
    return datetime.datetime(2026, 12, 6, hours, minutes)


# balancer_configuration_test.cpp: (test, settings document, [(time, inside?)])
WINDOWS = [
    ("BalancingWindowStartLessThanStop", {"activeWindow": {"start": "9:00", "stop": "19:00"}},
     [(at(9, 0), True), (at(10, 30), True), (at(19, 0), True), (at(8, 59), False), (at(19, 1), False)]),
    ("BalancingWindowStopLessThanStart", {"activeWindow": {"start": "23:00", "stop": "8:00"}},
     [(at(23, 0), True), (at(2, 30), True), (at(7, 59), True), (at(8, 1), False), (at(22, 0), False)]),
    ("Defaults", {}, [(at(12, 0), True)]),
]


@pytest.mark.parametrize("test, document, times", WINDOWS, ids=[row[0] for row in WINDOWS])
def test_the_window_is_the_servers(test: str, document: dict, times: list) -> None:
    settings = read_balancer_settings(document)
    assert settings.problem is None
    assert [in_window(settings, now) for now, _ in times] == [inside for _, inside in times]


@pytest.mark.parametrize("test, document", [
    ("InvalidBalancingWindowStartEqualsStop", {"activeWindow": {"start": "00:00", "stop": "00:00"}}),
    ("InvalidBalancingWindowTimeFormat", {"activeWindow": {"start": "23", "stop": "6"}}),
    ("InvalidBalancingWindowTimeFormat", {"activeWindow": {"start": 23, "stop": "6:00"}}),
    ("InvalidBalancingWindowTimeFormat", {"activeWindow": {"start": "23:00", "stop": 6}}),
    ("InvalidBalancingWindowFormat", {"activeWindow": {"begin": "23:00", "stop": "6:00"}}),
    ("InvalidBalancingWindowFormat", {"activeWindow": {"start": "23:00", "end": "6:00"}}),
])
def test_a_window_the_server_cannot_read(test: str, document: dict) -> None:
    assert read_balancer_settings(document).problem is not None


@pytest.mark.parametrize("test, document, mode", [
    ("BalancerDisabledThroughStoppedOption", {"stopped": True}, "off"),
    ("AllValidBalancerModeOptions", {"mode": "full"}, "full"),
    ("AllValidBalancerModeOptions", {"mode": "off"}, "off"),
    ("InvalidBalancerModeOption", {"mode": "BAD"}, "off"),
    ("autoSplitOnly, a mode of old releases (7575700)", {"mode": "autoSplitOnly"}, "off"),
])
def test_the_mode_is_the_servers(test: str, document: dict, mode: str) -> None:
    assert read_balancer_settings(document).mode == mode


@pytest.mark.parametrize("document, size", [
    ({"value": 1}, 1024 * 1024), ({"value": 10}, 10 * 1024 * 1024), ({"value": 1024}, 1024 * 1024 * 1024),
    ({"value": 1, "SomeFutureKey": "SomeFutureValue"}, 1024 * 1024),  # BackwardsCompatibilityDueToExtraKeys
    ({"value": 0}, DEFAULT_CHUNK_SIZE_BYTES), ({"value": 1025}, DEFAULT_CHUNK_SIZE_BYTES),  # IllegalValues
    ({"value": "WrongType"}, DEFAULT_CHUNK_SIZE_BYTES), (None, DEFAULT_CHUNK_SIZE_BYTES),
])
def test_the_chunk_size_setting(document, size: int) -> None:  # ChunkSizeSettingsType NormalValues, IllegalValues
    assert chunk_size_bytes(document) == size


@pytest.mark.mongod
def test_a_real_config_server_is_read_with_its_own_clock(cluster) -> None:
    """A window written on the real config server: the verdict follows the config server's clock (hello.localTime)."""
    from mongoshard import ConfigDatabaseSource

    settings = cluster.config_client.config.settings
    now = cluster.config_client.admin.command("hello")["localTime"]
    around = [(now - datetime.timedelta(minutes=m)).strftime("%-H:%M") for m in (30, -30)]
    away = [(now + datetime.timedelta(hours=h)).strftime("%-H:%M") for h in (2, 3)]
    try:
        for window, inside in ((around, True), (away, False)):
            settings.replace_one({"_id": "balancer"}, {"_id": "balancer", "mode": "full",
                                                       "activeWindow": {"start": window[0], "stop": window[1]}}, upsert=True)
            state = ConfigDatabaseSource(cluster.config_client).balancer()
            assert (state.enabled, state.window, state.in_window) == (True, tuple(window), inside)
        settings.replace_one({"_id": "balancer"}, {"_id": "balancer", "mode": "autoSplitOnly"}, upsert=True)
        assert ConfigDatabaseSource(cluster.config_client).balancer().enabled is False
    finally:
        settings.delete_one({"_id": "balancer"})
