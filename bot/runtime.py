"""Everything the bot is made of, wired from Settings (used by `python -m bot` and the tests)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.app import create_app
from bot.config import Settings
from bot.crypto import SecretBox
from bot.db import queries
from bot.db.migrate import upgrade_database
from bot.db.session import database_answers, make_engine, make_session_factory, session_scope
from bot.deps import Deps, Policy
from bot.domain.policy.approval import is_group_id
from bot.domain.policy.model import PolicyDocument, environment_policy
from bot.domain.targets import DEFAULT_TARGET, Target
from bot.kibana.client import KibanaClient
from bot.metrics import metrics_text
from bot.policy_file import load_policy_file
from bot.server import make_wsgi_app
from bot.services import approvers
from bot.services.directory import Directory
from bot.services.worker import JobRunner
from bot.slack.notifier import SlackNotifier
from bot.slack.usergroups import usergroup_fetch
from bot.target_clients import KIBANA_QUICK_DEADLINE_SECONDS, build_target_clients

if TYPE_CHECKING:
    from wsgiref.types import WSGIApplication

__all__ = ["KIBANA_QUICK_DEADLINE_SECONDS", "Runtime", "build_runtime", "governance_from"]


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    client: WebClient
    kibana: KibanaClient  # the default target's
    deps: Deps
    app: App
    runner: JobRunner
    listeners: ThreadPoolExecutor

    def wsgi(
        self, *, serve_slack: bool = True, slack_ready: Callable[[], bool] | None = None
    ) -> WSGIApplication:
        """The HTTP front: Slack (HTTP mode), /healthz and /metrics."""

        def ready() -> bool:
            return database_answers(self.engine) and (slack_ready is None or slack_ready())

        secret = self.settings.slack_signing_secret
        return make_wsgi_app(
            self.app if serve_slack else None,
            ready=ready,
            metrics=lambda: metrics_text(self.deps.session_factory),
            signing_secret=secret.get_secret_value() if secret is not None else None,
        )

    def close(self) -> None:
        """Stop taking work, let running listeners and jobs finish, then close connections."""
        self.runner.stop()
        self.listeners.shutdown(wait=True, cancel_futures=True)
        for clients in self.deps.targets.values():
            clients.close()
        self.deps.directory.close()
        self.engine.dispose()


def policy_from(settings: Settings) -> Policy:
    return Policy(
        approvers=frozenset(settings.approvers),
        approval_channel=settings.approval_channel,
        notify_channel=settings.notify_channel,
        request_ttl=timedelta(hours=settings.request_ttl_hours),
        kibana_max_attempts=settings.kibana_max_attempts,
        kibana_retry_base_seconds=settings.kibana_retry_base_seconds,
        kibana_retry_window_seconds=settings.kibana_retry_window_seconds,
        provision_backend=settings.provision_backend,
        lifecycle_concurrency=settings.lifecycle_concurrency,
        lifecycle_sweep_seconds=settings.lifecycle_sweep_seconds,
    )


def governance_from(settings: Settings) -> PolicyDocument:
    """POLICY_FILE's policy (PolicyFileError lists its problems; ConfigError when it cannot be
    read); without the file: one target from KIBANA_URL, APPROVERS, one approval."""
    if settings.policy_file is not None:
        return load_policy_file(settings.policy_file).document
    target = Target(
        key=DEFAULT_TARGET,
        kibana_url=settings.kibana_base_url,
        elasticsearch_url=settings.elasticsearch_base_url,
    )
    return environment_policy(
        target, settings.approvers, request_ttl=timedelta(hours=settings.request_ttl_hours)
    )


def _file_bridge(policy: Policy, governance: PolicyDocument, settings: Settings) -> Policy:
    """With POLICY_FILE, the fallback approvers (for requests stored before rules were kept)
    are the users its rules name (APPROVERS is ignored), and a pending request expires as its
    top-level reminders say."""
    if settings.policy_file is None:
        return policy
    named = {slack_id for rule in governance.rules for slack_id in rule.approvers}
    users = frozenset(i for i in named if not is_group_id(i))
    expire = governance.reminders.expire_after
    return replace(policy, approvers=users, request_ttl=expire or policy.request_ttl)


def _session_info(settings: Settings, governance: PolicyDocument) -> dict[str, Any]:
    """AUDIT_INDEX copies need an Elasticsearch: without one the setting does nothing."""
    if settings.audit_index and any(t.elasticsearch_url for t in governance.targets):
        return {queries.AUDIT_INDEX_INFO: settings.audit_index}
    return {}


def build_runtime(
    settings: Settings,
    keys: list[bytes],
    *,
    poll_seconds: float = 1.0,
    governance: PolicyDocument | None = None,
) -> Runtime:
    """Migrate the database and build every part; the job runner is not started yet.

    ``governance`` is the policy (POLICY_FILE's); without it, one target from the environment.
    A target whose key variable is unset or empty is a ConfigError, raised before anything
    is opened."""
    governance = governance or governance_from(settings)
    targets = build_target_clients(governance, settings)
    engine = make_engine(
        settings.database_url,
        pool_size=max(5, settings.worker_threads + settings.lifecycle_concurrency + 5),
        # listeners, workers (lifecycle too), the lease keeper, the sweeps and /healthz
        threads=settings.http_threads
        + settings.worker_threads
        + settings.lifecycle_concurrency
        + 5,
    )
    upgrade_database(engine)
    session_factory = make_session_factory(engine, info=_session_info(settings, governance))
    if settings.is_sqlite:
        # One process owns a SQLite database: leases left by a killed run can be taken now.
        with session_scope(session_factory) as session:
            queries.release_all_leases(session=session)
    client = WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=str(settings.slack_api_url),
        timeout=15,
    )
    # User-group lookups may run while Slack waits for an ack: a client that gives up soon.
    directory = Directory(
        usergroup_fetch(
            WebClient(
                token=settings.slack_bot_token.get_secret_value(),
                base_url=str(settings.slack_api_url),
                timeout=2,
            )
        )
    )
    directory.prefetch(approvers.policy_groups(governance))
    deps = Deps(
        engine=engine,
        session_factory=session_factory,
        secret_box=SecretBox(keys),
        notifier=SlackNotifier(
            client,
            approval_channel=settings.approval_channel,
            notify_channel=settings.notify_channel,
            slash_command=settings.slash_command,
        ),
        policy=_file_bridge(policy_from(settings), governance, settings),
        governance=governance,
        targets=targets,
        directory=directory,
    )
    runner = JobRunner(
        deps,
        threads=settings.worker_threads,
        lease_seconds=settings.job_lease_seconds,
        poll_seconds=poll_seconds,
        sweep_seconds=settings.sweep_seconds,
    )
    signing_secret = settings.slack_signing_secret
    listeners = ThreadPoolExecutor(
        max_workers=settings.http_threads, thread_name_prefix="slack-listener"
    )
    app = create_app(
        deps,
        client=client,
        signing_secret=signing_secret.get_secret_value() if signing_secret else "socket-mode",
        slash_command=settings.slash_command,
        listener_executor=listeners,
    )
    kibana = deps.default_clients.kibana
    return Runtime(settings, engine, client, kibana, deps, app, runner, listeners)
