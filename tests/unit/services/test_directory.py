"""The user-group directory: cached for a while, refreshed in the background, bounded on a
miss, and a failure named."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest

from bot.services.directory import Directory, GroupLookupError


class Groups:
    """A fetch that answers from a dict, counts its calls, and can be held up."""

    def __init__(self, groups: dict[str, list[str]]) -> None:
        self.groups = groups
        self.calls: list[str] = []
        self.release = threading.Event()
        self.release.set()

    def __call__(self, group: str) -> frozenset[str]:
        self.calls.append(group)
        self.release.wait(5)
        if group not in self.groups:
            raise GroupLookupError("no_such_subteam")
        return frozenset(self.groups[group])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _wait(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    pause = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        pause.wait(0.01)
    raise AssertionError("condition not reached")


def test_prefetch_resolves_once_and_warns_about_what_does_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fetch = Groups({"S1": ["U1", "U2"]})
    directory = Directory(fetch)
    with caplog.at_level(logging.WARNING, logger="bot.services.directory"):
        failed = directory.prefetch(["S1", "S2", "S1"])
    assert failed == {"S2": "no_such_subteam"}
    assert "S2" in caplog.text
    assert "no_such_subteam" in caplog.text
    assert directory.members("S1") == {"U1", "U2"}
    assert directory.failure("S2") == "no_such_subteam"
    assert directory.groups_of("U2", ["S1", "S2"]) == {"S1"}
    assert sorted(fetch.calls) == ["S1", "S2"]  # nothing asked twice while fresh


def test_a_stale_entry_is_served_while_it_is_refreshed_in_the_background() -> None:
    clock = Clock()
    fetch = Groups({"S1": ["U1"]})
    directory = Directory(fetch, ttl_seconds=300, clock=clock)
    directory.prefetch(["S1"])
    fetch.groups["S1"] = ["U1", "U9"]
    fetch.release.clear()  # the refresh hangs: the answer must not wait for it
    clock.now += 301
    assert directory.members("S1") == {"U1"}
    fetch.release.set()
    _wait(lambda: directory.members("S1") == {"U9", "U1"})
    assert fetch.calls == ["S1", "S1"]
    directory.close()


def test_a_miss_is_looked_up_for_at_most_the_wait() -> None:
    fetch = Groups({"S1": ["U1"]})
    fetch.release.clear()
    directory = Directory(fetch, wait_seconds=0.05)
    assert directory.members("S1") == frozenset()  # gave up waiting
    fetch.release.set()
    _wait(lambda: directory.members("S1") == {"U1"})  # the lookup landed later
    directory.close()


def test_a_group_that_resolved_keeps_its_members_through_a_failed_refresh() -> None:
    clock = Clock()
    fetch = Groups({"S1": ["U1"]})
    directory = Directory(fetch, ttl_seconds=10, clock=clock)
    directory.prefetch(["S1"])
    del fetch.groups["S1"]
    clock.now += 11
    directory.members("S1")
    _wait(lambda: len(fetch.calls) == 2 and not directory._inflight)  # the refresh landed
    assert directory.members("S1") == {"U1"}
    assert directory.failure("S1") is None
    directory.close()


def test_without_a_fetch_every_group_is_unresolved() -> None:
    directory = Directory()
    assert directory.prefetch(["S1"]) == {"S1": "no_directory"}
    assert directory.members("S1") == frozenset()
