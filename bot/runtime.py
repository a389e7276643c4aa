"""Everything the bot is made of, wired from Settings (used by `python -m bot` and the tests)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

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
from bot.domain.policy.model import PolicyDocument, environment_policy
from bot.domain.targets import DEFAULT_TARGET, Target
from bot.elasticsearch.client import ElasticsearchClient
from bot.elasticsearch.client import make_http_client as make_es_http_client
from bot.kibana.client import KibanaClient, make_http_client
from bot.metrics import metrics_text
from bot.server import make_wsgi_app
from bot.services import approvers
from bot.services.directory import Directory
from bot.services.worker import JobRunner
from bot.slack.notifier import SlackNotifier
from bot.slack.usergroups import usergroup_fetch

if TYPE_CHECKING:
    from wsgiref.types import WSGIApplication


# The longest any Kibana call made before an ack (form submission, form opening) may take in
# all: Slack gives 3 s for the whole answer; past this the request goes on with a warning.
KIBANA_QUICK_DEADLINE_SECONDS = 0.6


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    client: WebClient
    kibana: KibanaClient
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
        self.kibana.close()
        self.deps.kibana_quick.close()
        self.deps.directory.close()
        for client in (self.deps.elasticsearch, self.deps.elasticsearch_quick):
            if client is not None:
                client.close()
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
    )


def governance_from(settings: Settings) -> PolicyDocument:
    """The policy without POLICY_FILE: one target from KIBANA_URL, APPROVERS, one approval."""
    target = Target(
        key=DEFAULT_TARGET,
        kibana_url=settings.kibana_base_url,
        elasticsearch_url=settings.elasticsearch_base_url,
    )
    return environment_policy(
        target, settings.approvers, request_ttl=timedelta(hours=settings.request_ttl_hours)
    )


def _elasticsearch_clients(
    settings: Settings,
) -> tuple[ElasticsearchClient | None, ElasticsearchClient | None]:
    """The Elasticsearch clients (work, and short timeouts for calls made while a person
    waits), or none when ELASTICSEARCH_URL is unset."""
    url, key = settings.elasticsearch_base_url, settings.elasticsearch_api_key
    if url is None or key is None:
        return None, None
    return (
        ElasticsearchClient(
            make_es_http_client(
                url, key.get_secret_value(), timeout=settings.kibana_timeout_seconds
            )
        ),
        ElasticsearchClient(make_es_http_client(url, key.get_secret_value(), timeout=1.5)),
    )


def build_runtime(
    settings: Settings,
    keys: list[bytes],
    *,
    poll_seconds: float = 1.0,
    governance: PolicyDocument | None = None,
) -> Runtime:
    """Migrate the database and build every part; the job runner is not started yet.

    ``governance`` replaces the policy built from the settings (tests inject one)."""
    engine = make_engine(
        settings.database_url,
        pool_size=max(5, settings.worker_threads + 4),
        # listeners, workers, the lease keeper, the expiry sweep and /healthz
        threads=settings.http_threads + settings.worker_threads + 4,
    )
    upgrade_database(engine)
    session_factory = make_session_factory(engine)
    if settings.is_sqlite:
        # One process owns a SQLite database: leases left by a killed run can be taken now.
        with session_scope(session_factory) as session:
            queries.release_all_leases(session=session)
    client = WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=str(settings.slack_api_url),
        timeout=15,
    )
    kibana = KibanaClient(
        make_http_client(
            settings.kibana_base_url,
            settings.kibana_api_key.get_secret_value(),
            timeout=settings.kibana_timeout_seconds,
        )
    )
    kibana_quick = KibanaClient(
        make_http_client(
            settings.kibana_base_url, settings.kibana_api_key.get_secret_value(), timeout=1.5
        ),
        deadline=KIBANA_QUICK_DEADLINE_SECONDS,
    )
    elasticsearch, elasticsearch_quick = _elasticsearch_clients(settings)
    policy_document = governance or governance_from(settings)
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
    directory.prefetch(approvers.policy_groups(policy_document))
    deps = Deps(
        engine=engine,
        session_factory=session_factory,
        kibana=kibana,
        kibana_quick=kibana_quick,
        secret_box=SecretBox(keys),
        notifier=SlackNotifier(
            client,
            approval_channel=settings.approval_channel,
            notify_channel=settings.notify_channel,
            slash_command=settings.slash_command,
        ),
        policy=policy_from(settings),
        governance=policy_document,
        elasticsearch=elasticsearch,
        elasticsearch_quick=elasticsearch_quick,
        directory=directory,
    )
    runner = JobRunner(
        deps,
        threads=settings.worker_threads,
        lease_seconds=settings.job_lease_seconds,
        poll_seconds=poll_seconds,
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
    return Runtime(settings, engine, client, kibana, deps, app, runner, listeners)
