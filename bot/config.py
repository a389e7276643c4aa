"""Runtime configuration: the environment variables of the runtime contract, read once.

Only ``bot/__main__.py`` and ``migrations/env.py`` build these classes; everything else receives
the values it needs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.domain.audit import index_name_problem
from bot.domain.backends import BackendSetting

DEFAULT_SQLITE_FILE = "connector-bot.sqlite3"
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
SLACK_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
PLACEHOLDER_SECRETS = {"changeme", "change-me", "xoxb-", "xapp-", "secret", "todo"}


class ConfigError(Exception):
    """Configuration that stops the bot at start; each problem names its variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _sqlite_default() -> str:
    return f"sqlite:///{Path.cwd() / DEFAULT_SQLITE_FILE}"


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for PostgreSQL URLs written the usual ways."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class DatabaseSettings(BaseSettings):
    """The part of the configuration that migrations need."""

    model_config = SettingsConfigDict(
        extra="ignore", env_ignore_empty=True, hide_input_in_errors=True
    )

    database_url: str = Field(
        default_factory=_sqlite_default,
        description="SQLAlchemy URL; default: a SQLite file in the working directory.",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        url = normalise_database_url(value.strip())
        if not url.startswith(("sqlite://", "postgresql+psycopg://")):
            raise ValueError(
                "must be a sqlite:///path or postgresql://user@host/db URL "
                "(other databases are not supported)"
            )
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _without_policy_file(info: ValidationInfo) -> bool:
    # A POLICY_FILE that failed validation is absent from info.data: it is named on its own.
    return "policy_file" in info.data and info.data["policy_file"] is None


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(DatabaseSettings):
    """Every variable of the runtime contract, validated at start."""

    slack_bot_token: SecretStr = Field(description="Bot token (xoxb-).")
    slack_app_token: SecretStr | None = Field(
        default=None, description="When set, Socket Mode (xapp-) instead of HTTP."
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validate_default=True,
        description="HTTP mode: verifies every request from Slack.",
    )
    slack_api_url: AnyHttpUrl = Field(default=AnyHttpUrl("https://slack.com/api/"))
    policy_file: Path | None = Field(
        default=None,
        description="YAML policy (targets, rules, reminders, lifecycle); replaces KIBANA_URL "
        "and APPROVERS, and KIBANA_API_KEY for targets naming their own key variable.",
    )
    kibana_url: AnyHttpUrl | None = Field(
        default=None,
        validate_default=True,
        description="The Kibana to provision into (required without POLICY_FILE).",
    )
    kibana_api_key: SecretStr | None = Field(
        default=None,
        validate_default=True,
        description="Encoded Kibana API key (Authorization: ApiKey); required without "
        "POLICY_FILE, and with one for targets without kibana_api_key_env.",
    )
    elasticsearch_url: AnyHttpUrl | None = Field(
        default=None, description="Elasticsearch, for inference endpoints; unset: connectors only."
    )
    elasticsearch_api_key: SecretStr | None = Field(
        default=None,
        validate_default=True,
        description="Encoded Elasticsearch API key (Authorization: ApiKey); needs the URL.",
    )
    provision_backend: BackendSetting = Field(
        default=BackendSetting.AUTO,
        validate_default=True,
        description="auto (by stack version), connector or inference.",
    )
    approvers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validate_default=True,
        description="Slack user ids allowed to approve (without POLICY_FILE).",
    )
    approval_channel: str = Field(description="Channel id where approval cards are posted.")
    notify_channel: str | None = Field(default=None, description="Channel for outcome lines.")
    host: str = "0.0.0.0"  # noqa: S104 - the contract's default: the bot serves Slack from outside
    port: int = Field(default=3000, ge=1, le=65535)

    encryption_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s) for secrets at rest; comma-separated, newest first, to rotate.",
    )
    request_ttl_hours: float = Field(default=72.0, gt=0, description="Pending requests expire.")
    kibana_timeout_seconds: float = Field(default=30.0, gt=0)
    kibana_max_attempts: int | None = Field(
        default=None, ge=1, le=1000, description="Optional cap on attempts per Kibana step."
    )
    kibana_retry_base_seconds: float = Field(default=2.0, ge=0)
    kibana_retry_window_seconds: float = Field(
        default=600.0, gt=0, le=86400, description="How long a Kibana step is retried."
    )
    worker_threads: int = Field(default=4, ge=1, le=64)
    http_threads: int = Field(default=32, ge=4, le=512)
    job_lease_seconds: float = Field(default=30.0, gt=0)
    sweep_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="How often expiry and reminders are looked for."
    )
    lifecycle_concurrency: int = Field(
        default=4, ge=1, le=64, description="Re-tests and reconciliations at once per target."
    )
    lifecycle_sweep_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="How often due lifecycle work is looked for."
    )
    log_level: str = "INFO"
    slash_command: str = "/llm-connector"
    audit_index: str | None = Field(
        default=None,
        description="Elasticsearch data stream the audit events are also written to.",
    )

    @field_validator("approvers", mode="before")
    @classmethod
    def _split_approvers(cls, value: Any) -> Any:
        return _comma_list(value)

    @field_validator("approvers")
    @classmethod
    def _valid_approvers(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if not value and _without_policy_file(info):
            raise PydanticCustomError("missing", "Field required")
        bad = [item for item in value if not SLACK_USER_ID.match(item)]
        if bad:
            raise ValueError(
                f"{', '.join(bad)} is not a Slack user id (ids look like U012ABCDEF, not names)"
            )
        return value

    @field_validator("kibana_url", "kibana_api_key")
    @classmethod
    def _required_without_policy_file(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and _without_policy_file(info):
            raise PydanticCustomError("missing", "Field required")
        return value

    @field_validator("policy_file", mode="before")
    @classmethod
    def _policy_path(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("approval_channel", "notify_channel")
    @classmethod
    def _valid_channel(cls, value: str | None) -> str | None:
        if value is not None and not SLACK_CHANNEL_ID.match(value.strip()):
            raise ValueError(f"{value!r} is not a Slack channel id (ids look like C012ABCDEF)")
        return value.strip() if value else value

    @field_validator("log_level")
    @classmethod
    def _valid_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator("audit_index")
    @classmethod
    def _valid_audit_index(cls, value: str | None) -> str | None:
        if value is None:
            return None
        name = value.strip()
        problem = index_name_problem(name)
        if problem:
            raise ValueError(
                f"{problem}: Elasticsearch data stream names are lowercase, without "
                "\\ / * ? \" < > | , # : or spaces, and don't start with -, _, + or . "
                "(e.g. logs-llm_connector.audit-default)"
            )
        return name

    @field_validator("slash_command")
    @classmethod
    def _valid_command(cls, value: str) -> str:
        if not re.fullmatch(r"/[a-z0-9_-]{1,31}", value):
            raise ValueError("must look like /llm-connector")
        return value

    @field_validator(
        "slack_bot_token",
        "slack_app_token",
        "slack_signing_secret",
        "kibana_api_key",
        "elasticsearch_api_key",
        "encryption_key",
    )
    @classmethod
    def _trimmed_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # Secrets mounted from files often end in a newline: trim it, refuse inner spaces.
        if value is None:
            return None
        text = value.get_secret_value().strip()
        if not text:
            raise ValueError("is blank")
        if re.search(r"\s", text):
            raise ValueError("contains spaces or line breaks inside the value")
        if text.lower() in PLACEHOLDER_SECRETS and info.field_name != "slack_bot_token":
            raise ValueError("is a placeholder, not a real value")
        return SecretStr(text)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        if not token.startswith("xoxb-") or token.lower() in PLACEHOLDER_SECRETS:
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("slack_signing_secret")
    @classmethod
    def _signing_secret_for_http(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        # A bad SLACK_APP_TOKEN is absent from info.data: Socket Mode was meant, say nothing.
        http_mode = "slack_app_token" in info.data and info.data["slack_app_token"] is None
        if value is None and http_mode:
            raise ValueError("missing; HTTP mode needs it (or set SLACK_APP_TOKEN for Socket Mode)")
        return value

    @field_validator("elasticsearch_api_key")
    @classmethod
    def _elasticsearch_key_with_url(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        # A bad ELASTICSEARCH_URL is absent from info.data and named on its own: say nothing.
        url_set = info.data.get("elasticsearch_url") is not None
        if value is None and url_set:
            raise ValueError(
                "missing; ELASTICSEARCH_URL is set, and the bot needs an encoded Elasticsearch "
                "API key for it (with manage_inference and monitor_inference)"
            )
        return value

    @field_validator("provision_backend", mode="before")
    @classmethod
    def _backend_lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("provision_backend")
    @classmethod
    def _inference_needs_elasticsearch(
        cls, value: BackendSetting, info: ValidationInfo
    ) -> BackendSetting:
        url_unset = "elasticsearch_url" in info.data and info.data["elasticsearch_url"] is None
        # With POLICY_FILE, each target names its own Elasticsearch.
        if value is BackendSetting.INFERENCE and url_unset and _without_policy_file(info):
            raise ValueError(
                "inference needs ELASTICSEARCH_URL (and ELASTICSEARCH_API_KEY): set them, or "
                "use auto or connector"
            )
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_ends_with_slash(cls, value: AnyHttpUrl) -> AnyHttpUrl:
        # slack_sdk joins method names onto it: without the slash, /api would be dropped.
        text = str(value)
        return value if text.endswith("/") else AnyHttpUrl(text + "/")

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def kibana_base_url(self) -> str:
        """KIBANA_URL without its trailing slash ("" when unset: POLICY_FILE names the targets)."""
        return str(self.kibana_url).rstrip("/") if self.kibana_url is not None else ""

    def ignored_by_policy_file(self) -> list[str]:
        """The variables set here that POLICY_FILE replaces (its targets and rules)."""
        if self.policy_file is None:
            return []
        values = {
            "KIBANA_URL": self.kibana_url,
            "APPROVERS": self.approvers or None,
            "ELASTICSEARCH_URL": self.elasticsearch_url,
        }
        return [name for name, value in values.items() if value is not None]

    @property
    def elasticsearch_base_url(self) -> str | None:
        return str(self.elasticsearch_url).rstrip("/") if self.elasticsearch_url else None


FIELD_HINTS = {
    "slack_bot_token": "the bot token (xoxb-…) from the app's OAuth & Permissions page",
    "kibana_url": "the Kibana base URL, e.g. https://kibana.example.com:5601",
    "kibana_api_key": "an encoded Kibana API key with Actions and Connectors: All",
    "approvers": "comma-separated Slack user ids, e.g. U012ABCDEF,U034GHIJKL",
    "approval_channel": "the channel id for approval cards, e.g. C012ABCDEF",
}

URL_EXAMPLES = {
    "kibana_url": "https://kibana.example.com:5601",
    "elasticsearch_url": "https://elasticsearch.example.com:9200",
    "slack_api_url": "https://slack.com/api/",
}


def describe_validation_error(error: ValidationError) -> list[str]:
    """Turn pydantic's errors into one line per variable, never echoing values."""
    problems: list[str] = []
    for item in error.errors(include_input=False, include_url=False):
        location = [str(part) for part in item["loc"]]
        message = str(item["msg"]).removeprefix("Value error, ")
        field = location[0]
        variable = field.upper()
        if item["type"] == "missing":
            hint = FIELD_HINTS.get(field, "required")
            problems.append(f"{variable}: missing ({hint})")
        elif item["type"] == "url_parsing" and "relative URL without a base" in message:
            example = URL_EXAMPLES.get(field, "https://host.example.com")
            problems.append(
                f"{variable}: not a full URL, it has no scheme: add https:// in front "
                f"(e.g. {example})"
            )
        elif item["type"] == "url_scheme":
            # "kibana.example.com:5601" parses as scheme "kibana.example.com".
            example = URL_EXAMPLES.get(field, "https://host.example.com")
            problems.append(
                f"{variable}: {message}: add https:// in front of the host, or replace the "
                f"scheme (e.g. {example})"
            )
        else:
            problems.append(f"{variable}: {message}")
    return problems


def load_settings() -> Settings:
    """Read and validate the environment; raise ConfigError naming each bad variable."""
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None


def load_database_settings() -> DatabaseSettings:
    """Only DATABASE_URL (for `python -m bot migrate`); ConfigError when it is wrong."""
    try:
        return DatabaseSettings()
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None
