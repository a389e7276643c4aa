"""The inventory's state machine, re-test scheduling and drift, as pure functions.

States of a managed connector (see the README's "Connector lifecycle" diagram)::

    active ──N failed re-tests──► failing ──passing re-test──► active
    active | failing ──settings changed outside the bot──► drifted
    drifted ──N failed re-tests──► failing      (a broken connector is the more urgent fact)
    active | failing | drifted ──expiry (the bot deletes it)──► expired   (final in practice)
    any but retired ──deleted in Kibana, or retired by an approved request──► retired   (final)

A passing re-test does not clear ``drifted``: the change was made by someone outside the bot
and a person has to look at it (the later change/retire flows re-baseline it). Failing and
recovering are each told once: the event is produced only by the test that crosses the line.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.domain.enums import Provider


class ManagedState(StrEnum):
    """Where a connector the bot manages is in its life."""

    ACTIVE = "active"
    FAILING = "failing"
    DRIFTED = "drifted"
    EXPIRED = "expired"
    RETIRED = "retired"


class LifecycleEvent(StrEnum):
    """What happened to a managed connector that people are told about."""

    ADOPTED = "adopted"
    RETEST_FAILED = "retest_failed"  # a failed re-test that did not (yet) change the state
    FAILING = "failing"
    RECOVERED = "recovered"
    DRIFTED = "drifted"
    DELETED = "deleted"  # deleted in Kibana (or Elasticsearch) outside the bot
    TRANSFERRED = "transferred"  # a new owner (the previous one in ``message``)
    # Rotations and changes through approval (the change request's reference in ``message``).
    CHANGE_REQUESTED = "change_requested"
    CHANGED = "changed"  # updated in place and its test passed
    CHANGE_TEST_FAILED = "change_test_failed"  # updated, but the test failed: rollback offered
    CHANGE_FAILED = "change_failed"  # Kibana or Elasticsearch refused the update: nothing changed
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"
    RETIRE_ASKED = "retire_asked"  # someone asked to retire it (a request, maybe to approve)
    EXTEND_ASKED = "extend_asked"
    RETIRED = "retired"  # deleted by the bot: an approved retire request
    EXTENDED = "extended"  # its expiry moved: an approved extension
    EXPIRING = "expiring"  # it expires in a few days (3 and 1 days before)
    EXPIRED = "expired"  # deleted by the bot at its expiry
    DELETE_FAILED = "delete_failed"  # the back-end refused to delete it (retire or expiry)
    ASK_REJECTED = "ask_rejected"  # a retire or extend request for it was rejected


S = ManagedState
TESTED_STATES = frozenset({S.ACTIVE, S.FAILING, S.DRIFTED})
# The states of a connector that still exists (and may be retired, extended or expire).
LIVE_STATES = TESTED_STATES
# An expired connector was deleted by the bot: reconciliation has nothing to find.
RECONCILED_STATES = frozenset({S.ACTIVE, S.FAILING, S.DRIFTED})
DELETED_IN_KIBANA = "deleted in Kibana"

_TRANSITIONS: dict[ManagedState, frozenset[ManagedState]] = {
    S.ACTIVE: frozenset({S.FAILING, S.DRIFTED, S.EXPIRED, S.RETIRED}),
    S.FAILING: frozenset({S.ACTIVE, S.DRIFTED, S.EXPIRED, S.RETIRED}),
    S.DRIFTED: frozenset({S.FAILING, S.EXPIRED, S.RETIRED}),
    S.EXPIRED: frozenset({S.RETIRED}),
    S.RETIRED: frozenset(),
}


def can_move(source: ManagedState, target: ManagedState) -> bool:
    """True when the inventory's state machine has this transition."""
    return target in _TRANSITIONS[source]


@dataclass(frozen=True)
class TestEffect:
    """What one re-test result does to a row: its new state and failure count, and the one
    event to tell (None: nothing worth a message, e.g. another passing test)."""

    state: ManagedState
    consecutive_failures: int
    event: LifecycleEvent | None


def apply_test(
    state: ManagedState, consecutive_failures: int, *, ok: bool, failing_after: int
) -> TestEffect:
    """The effect of a re-test result on a row in ``state`` with that many failures in a row."""
    if state not in TESTED_STATES:
        return TestEffect(state, consecutive_failures, None)
    if ok:
        if state is S.FAILING:
            return TestEffect(S.ACTIVE, 0, LifecycleEvent.RECOVERED)
        return TestEffect(state, 0, None)
    failures = consecutive_failures + 1
    if state is not S.FAILING and failures >= max(1, failing_after):
        return TestEffect(S.FAILING, failures, LifecycleEvent.FAILING)
    return TestEffect(state, failures, LifecycleEvent.RETEST_FAILED)


JITTER_SHARE = 0.1  # re-tests spread over ±10 % of the interval, so a large estate is smoothed


def next_test_at(now: datetime, every: timedelta, *, seed: int) -> datetime:
    """When to re-test next: ``every`` from ``now``, jittered by up to ±10 % (deterministic for
    a seed, so tests can predict it)."""
    spread = every.total_seconds() * JITTER_SHARE
    offset = random.Random(seed).uniform(-spread, spread)  # noqa: S311 - not for security
    return now + every + timedelta(seconds=offset)


# Keys never compared or shown, whatever a back-end echoes (Kibana and Elasticsearch never
# return secrets; this is a second guard).
_SECRET_WORDS = ("key", "secret", "token", "password", "credential", "private", "pem")
# Keys a back-end fills in or changes on its own: not a change someone made.
_IGNORED = frozenset({"rate_limit"})


def is_secret_key(key: str) -> bool:
    """True for a settings key that might hold a secret (never diffed nor shown)."""
    lowered = key.casefold()
    if lowered in {"apiprovider", "api_provider"}:
        return False
    return any(word in lowered for word in _SECRET_WORDS)


@dataclass(frozen=True)
class Change:
    """One non-secret setting that differs between the snapshot and what is there now."""

    key: str
    old: Any
    new: Any


def drift(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """The non-secret settings that changed (sorted by key); secrets are never compared."""
    changes = []
    for key in sorted(set(old) | set(new)):
        if key in _IGNORED or is_secret_key(key):
            continue
        before, after = old.get(key), new.get(key)
        if before != after:
            changes.append(Change(key, before, after))
    return changes


def visible(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings worth keeping as the drift baseline: secrets dropped."""
    return {key: value for key, value in settings.items() if not is_secret_key(key)}


# The Kibana connector types and inference services the bot knows, as its providers.
_GEN_AI_PROVIDERS = {
    "OpenAI": Provider.OPENAI,
    "Azure OpenAI": Provider.AZURE_OPENAI,
    "Other": Provider.OPENAI_COMPATIBLE,
}
_CONNECTOR_PROVIDERS = {
    ".bedrock": Provider.BEDROCK,
    ".gemini": Provider.VERTEX,
    ".inference": Provider.ELASTIC_MANAGED,
}
_INFERENCE_PROVIDERS = {
    "openai": Provider.OPENAI,
    "azureopenai": Provider.AZURE_OPENAI,
    "amazonbedrock": Provider.BEDROCK,
    "googlevertexai": Provider.VERTEX,
    "anthropic": Provider.ANTHROPIC,
    "mistral": Provider.MISTRAL,
    "elastic": Provider.ELASTIC_INFERENCE,
}


def adoptable_provider(backend: str, type_id: str, config: dict[str, Any]) -> Provider | str:
    """The bot's provider for a connector (type id and config) or an inference endpoint
    (its service), or why the bot cannot manage it (a plain str; Provider is a StrEnum, so
    callers test ``isinstance(result, Provider)``)."""
    if backend == "inference":
        provider = _INFERENCE_PROVIDERS.get(type_id)
        if provider is None:
            return f"the bot does not know the inference service {type_id}"
        return provider
    if type_id == ".gen-ai":
        api_provider = str(config.get("apiProvider") or "")
        found = _GEN_AI_PROVIDERS.get(api_provider)
        if found is None:
            return f"the bot does not know the .gen-ai provider {api_provider or '(none)'}"
        return found
    if type_id in _CONNECTOR_PROVIDERS:
        return _CONNECTOR_PROVIDERS[type_id]
    return f"{type_id} is not an LLM connector type the bot manages"


@dataclass(frozen=True)
class ManagedSummary:
    """A managed connector as the views show it."""

    id: int
    target: str
    space_id: str
    resource_id: str
    backend: str
    type_id: str
    name: str
    provider: str
    model: str | None
    owner: str
    state: ManagedState
    state_reason: str | None = None
    reference: str | None = None  # the request it was made for (None: adopted)
    last_test_at: datetime | None = None
    last_test_ok: bool | None = None
    last_test_latency_ms: int | None = None
    last_test_message: str | None = None
    consecutive_failures: int = 0
    next_test_at: datetime | None = None
    expires_at: datetime | None = None
    thread_channel: str | None = None
    thread_ts: str | None = None


@dataclass(frozen=True)
class LifecycleNotice:
    """One lifecycle event to tell: with the test's message and hint, or the drift."""

    event: LifecycleEvent
    message: str | None = None
    hint: str | None = None
    changes: tuple[Change, ...] = ()
    failures: int = 0
    failing_after: int = 0
    # Who adopted it, asked for a change, retirement or extension, decided one, or rolled back.
    actor: str | None = None
    request_id: int | None = None  # the change request (its Roll back button)
    kind: str | None = None  # the change's kind: "rotate" or "change"
    days: int | None = None  # days left (expiring), or days added (extension)
    reference: str | None = None  # the retire or extend request

    def to_payload(self) -> dict[str, Any]:
        """The notice as a job payload (JSON)."""
        return {
            "event": self.event.value,
            "message": self.message,
            "hint": self.hint,
            "changes": [[c.key, c.old, c.new] for c in self.changes],
            "failures": self.failures,
            "failing_after": self.failing_after,
            "actor": self.actor,
            "request_id": self.request_id,
            "kind": self.kind,
            "days": self.days,
            "reference": self.reference,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> LifecycleNotice:
        """Read a notice back from a job payload."""
        return cls(
            event=LifecycleEvent(payload["event"]),
            message=payload.get("message"),
            hint=payload.get("hint"),
            changes=tuple(Change(str(k), old, new) for k, old, new in payload.get("changes", [])),
            failures=int(payload.get("failures") or 0),
            failing_after=int(payload.get("failing_after") or 0),
            actor=payload.get("actor"),
            request_id=payload.get("request_id"),
            kind=payload.get("kind"),
            days=int(payload["days"]) if payload.get("days") is not None else None,
            reference=payload.get("reference"),
        )


class Audience(StrEnum):
    """Where a lifecycle notice goes."""

    THREAD = "thread"  # the connector's story: the request's thread, or the adopt message's
    OWNER = "owner"  # a DM to the owner
    CHANNEL = "channel"  # the notification channel


CHANGE_OUTCOMES = frozenset(
    {
        LifecycleEvent.CHANGED,
        LifecycleEvent.CHANGE_TEST_FAILED,
        LifecycleEvent.CHANGE_FAILED,
        LifecycleEvent.ROLLED_BACK,
        LifecycleEvent.ROLLBACK_FAILED,
    }
)
# The states in which an owner may ask to rotate or change a connector.
CHANGEABLE_STATES = frozenset({S.ACTIVE, S.FAILING, S.DRIFTED})


def after_change_test(state: ManagedState, *, ok: bool) -> ManagedState:
    """The state after the test of a change made through the bot: a pass makes it active
    (the change re-baselines a drifted row); a failure leaves it as it was."""
    if ok and state in CHANGEABLE_STATES:
        return S.ACTIVE
    return state


def audiences(event: LifecycleEvent) -> tuple[Audience, ...]:
    """Who is told about an event: every event lands in the thread; failing and recovering
    also reach the owner and the notification channel; drift, deletion, retirement, extension
    and expiry (its warnings too) the owner."""
    if event in {LifecycleEvent.FAILING, LifecycleEvent.RECOVERED}:
        return (Audience.THREAD, Audience.OWNER, Audience.CHANNEL)
    if event in {
        LifecycleEvent.DRIFTED,
        LifecycleEvent.DELETED,
        LifecycleEvent.RETIRED,
        LifecycleEvent.EXTENDED,
        LifecycleEvent.EXPIRING,
        LifecycleEvent.EXPIRED,
        LifecycleEvent.DELETE_FAILED,
        LifecycleEvent.TRANSFERRED,
        *CHANGE_OUTCOMES,
    }:
        return (Audience.THREAD, Audience.OWNER)
    return (Audience.THREAD,)
