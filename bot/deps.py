"""What the services need, built once by the composition root and passed down."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from bot.crypto import SecretBox
from bot.db.base import utcnow
from bot.db.session import SessionFactory
from bot.domain.backends import BackendSetting
from bot.domain.policy.model import PolicyDocument
from bot.domain.targets import Target
from bot.elasticsearch.client import ElasticsearchClient
from bot.errors import UnknownTargetError
from bot.kibana.client import KibanaClient
from bot.priority import AckGate
from bot.services.directory import Directory
from bot.services.ports import Notifier


@dataclass(frozen=True)
class Policy:
    """Rules an operator sets: who approves, where outcomes go, how long and how hard to try."""

    approvers: frozenset[str]
    approval_channel: str
    notify_channel: str | None
    request_ttl: timedelta = timedelta(hours=72)
    kibana_max_attempts: int | None = None  # an optional cap; the window is the rule
    kibana_retry_base_seconds: float = 2.0
    kibana_retry_cap_seconds: float = 60.0
    kibana_retry_window_seconds: float = 600.0  # Kibana restarts take 1 to 3 minutes
    notify_max_attempts: int = 14  # 1+2+4+…+256 s, then 300 s steps: about 25 minutes
    provision_backend: BackendSetting = BackendSetting.AUTO  # PROVISION_BACKEND
    lifecycle_concurrency: int = 4  # LIFECYCLE_CONCURRENCY: lifecycle jobs at once per target
    lifecycle_sweep_seconds: float = 30.0  # LIFECYCLE_SWEEP_SECONDS


class TtlValue:
    """One value remembered for a while (a per-process cache: nothing another replica needs)."""

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._value: object = None
        self._until = 0.0

    def get(self) -> object:
        with self._lock:
            return self._value if time.monotonic() < self._until else None

    def put(self, value: object) -> None:
        with self._lock:
            self._value, self._until = value, time.monotonic() + self._ttl


@dataclass(frozen=True)
class TargetClients:
    """One target's clients and the per-process memories of what its stack said.

    The quick clients have short timeouts: for calls made while a person waits. The
    Elasticsearch ones are set when the target names an Elasticsearch (inference endpoints).
    """

    target: Target
    kibana: KibanaClient
    kibana_quick: KibanaClient
    elasticsearch: ElasticsearchClient | None = None
    elasticsearch_quick: ElasticsearchClient | None = None
    connector_types: TtlValue = field(default_factory=lambda: TtlValue(60.0))
    backend_choice: TtlValue = field(default_factory=lambda: TtlValue(300.0))  # services.stack
    spaces: TtlValue = field(default_factory=lambda: TtlValue(60.0))  # services.catalog

    def close(self) -> None:
        for client in (
            self.kibana,
            self.kibana_quick,
            self.elasticsearch,
            self.elasticsearch_quick,
        ):
            if client is not None:
                client.close()


@dataclass(frozen=True)
class Deps:
    engine: Engine
    session_factory: SessionFactory
    secret_box: SecretBox
    notifier: Notifier
    policy: Policy
    # Targets, rules, reminders and lifecycle: POLICY_FILE, or built from the environment.
    governance: PolicyDocument
    # Each target's clients by target key, in the policy's order (the first is the default).
    targets: Mapping[str, TargetClients]
    clock: Callable[[], datetime] = utcnow
    wake_event: threading.Event = field(default_factory=threading.Event)
    ack_gate: AckGate = field(default_factory=AckGate)  # Slack requests not yet answered
    # Slack user-group members (approvers and `requester:` groups), cached per process.
    directory: Directory = field(default_factory=Directory)

    def wake_workers(self) -> None:
        """Tell this process's workers that new work was committed."""
        self.wake_event.set()

    def clients_for(self, key: str) -> TargetClients:
        """The clients of the target ``key`` (a request row's ``target``); UnknownTargetError
        when the policy has no such target (any more)."""
        clients = self.targets.get(key)
        if clients is None:
            raise UnknownTargetError(
                f"The target “{key}” is not in the bot's policy any more: an operator must add "
                "it back (or the requester asks again for another target)."
            )
        return clients

    @property
    def default_clients(self) -> TargetClients:
        return self.clients_for(self.governance.default_target.key)

    @property
    def several_targets(self) -> bool:
        """True when people choose a target (forms, cards and lists then name it)."""
        return len(self.governance.targets) > 1
