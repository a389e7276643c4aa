"""What the services need, built once by the composition root and passed down."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from bot.crypto import SecretBox
from bot.db.base import utcnow
from bot.db.session import SessionFactory
from bot.domain.backends import BackendSetting
from bot.domain.policy.model import PolicyDocument
from bot.elasticsearch.client import ElasticsearchClient
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
class Deps:
    engine: Engine
    session_factory: SessionFactory
    kibana: KibanaClient
    kibana_quick: KibanaClient  # short timeouts: for calls made while a person waits
    secret_box: SecretBox
    notifier: Notifier
    policy: Policy
    # Targets, rules, reminders and lifecycle: POLICY_FILE, or built from the environment.
    governance: PolicyDocument
    clock: Callable[[], datetime] = utcnow
    wake_event: threading.Event = field(default_factory=threading.Event)
    connector_types: TtlValue = field(default_factory=lambda: TtlValue(60.0))
    ack_gate: AckGate = field(default_factory=AckGate)  # Slack requests not yet answered
    backend_choice: TtlValue = field(default_factory=lambda: TtlValue(300.0))  # services.stack
    # Set when ELASTICSEARCH_URL is: inference endpoints (the quick one answers before acks).
    elasticsearch: ElasticsearchClient | None = None
    elasticsearch_quick: ElasticsearchClient | None = None
    # Slack user-group members (approvers and `requester:` groups), cached per process.
    directory: Directory = field(default_factory=Directory)

    def wake_workers(self) -> None:
        """Tell this process's workers that new work was committed."""
        self.wake_event.set()
