"""Who is in a Slack user group: looked up with `usergroups.users.list`, cached per process.

A cache of what Slack says (nothing another replica needs). Lookups made while Slack waits
for an ack stay bounded: a fresh entry is answered from memory, a stale one is answered from
memory while it is refreshed in the background, and only a group never seen is looked up
there, for at most ``wait_seconds`` (the runtime resolves every group the policy names at
start, so that is rare).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass

log = logging.getLogger(__name__)

MEMBERS_TTL_SECONDS = 300.0
FAILURE_TTL_SECONDS = 60.0  # a group that did not resolve is asked again sooner
WAIT_SECONDS = 1.0
NOT_CONFIGURED = "no_directory"


class GroupLookupError(Exception):
    """Slack did not say who is in the group; ``code`` is Slack's error (no_such_subteam…)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# Looks one group up: its member user ids, or GroupLookupError.
GroupFetch = Callable[[str], frozenset[str]]


@dataclass(frozen=True)
class _Entry:
    members: frozenset[str]
    error: str | None  # why the last lookup failed (members: the last known, or none)
    at: float


class Directory:
    """User-group members, cached for ``ttl_seconds``; thread-safe."""

    def __init__(
        self,
        fetch: GroupFetch | None = None,
        *,
        ttl_seconds: float = MEMBERS_TTL_SECONDS,
        failure_ttl_seconds: float = FAILURE_TTL_SECONDS,
        wait_seconds: float = WAIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._failure_ttl = failure_ttl_seconds
        self._wait = wait_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._inflight: dict[str, Future[_Entry]] = {}
        self._pool: ThreadPoolExecutor | None = None

    def prefetch(self, groups: Iterable[str]) -> dict[str, str]:
        """Resolve ``groups`` now (at start); return those that did not resolve, with why.

        Each failure is logged as a warning naming the group and Slack's error."""
        failed: dict[str, str] = {}
        for group in sorted(set(groups)):
            entry = self._lookup(group)
            if entry.error is not None:
                failed[group] = entry.error
                log.warning(
                    "user group %s could not be resolved (%s): its members can't approve "
                    "until it does",
                    group,
                    entry.error,
                )
        return failed

    def members(self, group: str) -> frozenset[str]:
        """The group's members as far as known (empty when it never resolved)."""
        return self._entry(group).members

    def failure(self, group: str) -> str | None:
        """Why the group could not be resolved, or None when it could."""
        return self._entry(group).error

    def resolve(self, groups: Iterable[str]) -> dict[str, frozenset[str]]:
        return {group: self.members(group) for group in set(groups)}

    def groups_of(self, user: str, groups: Iterable[str]) -> frozenset[str]:
        """Those of ``groups`` that ``user`` is a member of."""
        return frozenset(group for group in set(groups) if user in self.members(group))

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _entry(self, group: str) -> _Entry:
        with self._lock:
            entry = self._entries.get(group)
        if entry is None:
            return self._bounded_lookup(group)
        ttl = self._ttl if entry.error is None else self._failure_ttl
        if self._clock() - entry.at >= ttl:
            self._start_lookup(group)  # answer from memory; the refresh lands later
        return entry

    def _bounded_lookup(self, group: str) -> _Entry:
        future = self._start_lookup(group)
        try:
            return future.result(timeout=self._wait)
        except FutureTimeoutError:
            return _Entry(frozenset(), "timeout", self._clock())

    def _start_lookup(self, group: str) -> Future[_Entry]:
        with self._lock:
            running = self._inflight.get(group)
            if running is not None:
                return running
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="usergroups")
            future = self._pool.submit(self._lookup, group)
            self._inflight[group] = future
        return future

    def _lookup(self, group: str) -> _Entry:
        try:
            if self._fetch is None:
                raise GroupLookupError(NOT_CONFIGURED)
            entry = _Entry(self._fetch(group), None, self._clock())
        except GroupLookupError as error:
            with self._lock:
                known = self._entries.get(group)
            # A group that resolved before keeps its members through a passing failure.
            if known is not None and known.error is None:
                log.warning("user group %s: refresh failed (%s), keeping", group, error.code)
                entry = _Entry(known.members, None, self._clock())
            else:
                entry = _Entry(frozenset(), error.code, self._clock())
        with self._lock:
            self._entries[group] = entry
            self._inflight.pop(group, None)
        return entry
