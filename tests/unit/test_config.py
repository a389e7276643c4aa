"""The runtime contract: read from the environment, each problem named, no secret echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.__main__ import _secrets_of
from bot.config import ConfigError, DatabaseSettings, Settings, load_settings
from bot.domain.backends import BackendSetting
from bot.logs import MASK, RedactingFilter

BOT_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
KIBANA_API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
APP_TOKEN = "xapp-1-A0123456789-1234567890123-abcdef0123456789abcdef"

VALID = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "KIBANA_URL": "https://kibana.example.com:5601",
    "KIBANA_API_KEY": KIBANA_API_KEY,
    "APPROVERS": "U012ABCDEF,U034GHIJKL",
    "APPROVAL_CHANNEL": "C012ABCDEF",
}
REQUIRED = ["SLACK_BOT_TOKEN", "KIBANA_URL", "KIBANA_API_KEY", "APPROVERS", "APPROVAL_CHANNEL"]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No variable of the contract set, and a working directory of the test's own."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def _set(env: pytest.MonkeyPatch, **values: str | None) -> None:
    for name, value in {**VALID, **values}.items():
        if value is None:
            env.delenv(name, raising=False)
        else:
            env.setenv(name, value)


def _problems(env: pytest.MonkeyPatch, **values: str | None) -> list[str]:
    _set(env, **values)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.problems
    assert str(caught.value) == "; ".join(caught.value.problems)
    return caught.value.problems


def _named(problems: list[str], variable: str) -> list[str]:
    return [p for p in problems if p.startswith(f"{variable}: ")]


def test_a_valid_environment_loads(env: pytest.MonkeyPatch) -> None:
    _set(env)
    settings = load_settings()
    assert settings.slack_bot_token.get_secret_value() == BOT_TOKEN
    assert settings.approvers == ["U012ABCDEF", "U034GHIJKL"]
    assert settings.approval_channel == "C012ABCDEF"
    assert settings.kibana_base_url == "https://kibana.example.com:5601"
    assert not settings.socket_mode


def test_defaults_of_the_contract(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _set(env)
    settings = load_settings()
    assert settings.host == "0.0.0.0"  # noqa: S104 - the documented default
    assert settings.port == 3000
    assert str(settings.slack_api_url) == "https://slack.com/api/"
    assert settings.database_url == f"sqlite:///{tmp_path / 'connector-bot.sqlite3'}"
    assert settings.is_sqlite
    assert settings.notify_channel is None
    assert settings.encryption_key is None
    assert settings.slack_app_token is None


@pytest.mark.parametrize("missing", REQUIRED)
def test_each_missing_required_variable_is_named(env: pytest.MonkeyPatch, missing: str) -> None:
    problems = _problems(env, **{missing: None})
    assert len(_named(problems, missing)) == 1, problems
    assert "missing" in _named(problems, missing)[0]


@pytest.mark.parametrize("missing", REQUIRED)
def test_an_empty_required_variable_counts_as_missing(
    env: pytest.MonkeyPatch, missing: str
) -> None:
    problems = _problems(env, **{missing: ""})
    assert _named(problems, missing), problems


def test_all_missing_variables_are_named_at_once(env: pytest.MonkeyPatch) -> None:
    problems = _problems(env, **dict.fromkeys(VALID))
    for variable in REQUIRED:
        assert _named(problems, variable), (variable, problems)


def test_with_nothing_set_the_signing_secret_is_named_too(env: pytest.MonkeyPatch) -> None:
    problems = _problems(env, **dict.fromkeys(VALID))
    assert _named(problems, "SLACK_SIGNING_SECRET"), problems


def test_http_mode_without_signing_secret_names_it(env: pytest.MonkeyPatch) -> None:
    problems = _problems(env, SLACK_SIGNING_SECRET=None)
    [problem] = problems
    assert problem.startswith("SLACK_SIGNING_SECRET: ")
    assert "SLACK_APP_TOKEN" in problem  # says how to use Socket Mode instead


def test_socket_mode_needs_no_signing_secret(env: pytest.MonkeyPatch) -> None:
    _set(env, SLACK_SIGNING_SECRET=None, SLACK_APP_TOKEN=APP_TOKEN)
    settings = load_settings()
    assert settings.socket_mode
    assert settings.slack_app_token is not None
    assert settings.slack_app_token.get_secret_value() == APP_TOKEN


def test_an_app_token_that_is_not_xapp_is_named(env: pytest.MonkeyPatch) -> None:
    wrong = "xoxb-9999999999-not-an-app-token-abcdef"
    problems = _problems(env, SLACK_APP_TOKEN=wrong)
    assert _named(problems, "SLACK_APP_TOKEN"), problems
    assert "xapp-" in _named(problems, "SLACK_APP_TOKEN")[0]
    assert not any(wrong in p for p in problems)


@pytest.mark.parametrize(
    "token", ["xoxp-1234567890-0987654321-userTokenAbCdEf", "xoxb-", "abc123", "changeme"]
)
def test_a_token_that_is_not_a_bot_token_is_refused(env: pytest.MonkeyPatch, token: str) -> None:
    problems = _problems(env, SLACK_BOT_TOKEN=token)
    [problem] = _named(problems, "SLACK_BOT_TOKEN")
    assert "xoxb-" in problem
    if len(token) > 6:
        assert token not in " ".join(problems)


@pytest.mark.parametrize("placeholder", ["changeme", "secret", "TODO"])
def test_placeholder_secrets_are_refused(env: pytest.MonkeyPatch, placeholder: str) -> None:
    problems = _problems(env, SLACK_SIGNING_SECRET=placeholder, KIBANA_API_KEY=placeholder)
    assert _named(problems, "SLACK_SIGNING_SECRET"), problems
    assert _named(problems, "KIBANA_API_KEY"), problems


def test_an_approver_that_is_a_name_not_an_id_is_named(env: pytest.MonkeyPatch) -> None:
    problems = _problems(env, APPROVERS="alice,U123")
    [problem] = _named(problems, "APPROVERS")
    assert "alice" in problem
    assert "U123 " not in problem
    assert "user id" in problem


def test_approvers_are_split_and_trimmed(env: pytest.MonkeyPatch) -> None:
    _set(env, APPROVERS=" U012ABCDEF , W034GHIJKL ,, ")
    assert load_settings().approvers == ["U012ABCDEF", "W034GHIJKL"]


def test_approvers_made_only_of_commas_are_refused(env: pytest.MonkeyPatch) -> None:
    problems = _problems(env, APPROVERS=" , ,")
    assert _named(problems, "APPROVERS"), problems


@pytest.mark.parametrize("variable", ["APPROVAL_CHANNEL", "NOTIFY_CHANNEL"])
@pytest.mark.parametrize("value", ["#llm-approvals", "llm-approvals", "U012ABCDEF"])
def test_a_channel_name_instead_of_an_id_is_named(
    env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    problems = _problems(env, **{variable: value})
    [problem] = _named(problems, variable)
    assert "channel id" in problem


@pytest.mark.parametrize("port", ["0", "65536", "-1", "http", "3000.5"])
def test_a_port_out_of_range_or_not_a_number_is_named(env: pytest.MonkeyPatch, port: str) -> None:
    problems = _problems(env, PORT=port)
    assert _named(problems, "PORT"), problems


def test_host_and_port_are_read(env: pytest.MonkeyPatch) -> None:
    _set(env, HOST="127.0.0.1", PORT="8080")
    settings = load_settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)


@pytest.mark.parametrize(
    "url",
    [
        "mysql://bot:hunter2-db-password@db.example.com/bot",
        "mysql+pymysql://bot:hunter2-db-password@db.example.com/bot",
        "oracle://bot:hunter2-db-password@db/bot",
        "not a url",
    ],
)
def test_an_unsupported_database_is_refused_without_echoing_the_url(
    env: pytest.MonkeyPatch, url: str
) -> None:
    problems = _problems(env, DATABASE_URL=url)
    [problem] = _named(problems, "DATABASE_URL")
    assert "sqlite" in problem
    assert "postgresql" in problem
    assert "hunter2" not in " ".join(problems)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://bot:pw@db:5432/bot", "postgresql+psycopg://bot:pw@db:5432/bot"),
        ("postgresql://bot:pw@db/bot", "postgresql+psycopg://bot:pw@db/bot"),
        ("postgresql+psycopg://bot@db/bot", "postgresql+psycopg://bot@db/bot"),
        ("  postgres://bot@db/bot  ", "postgresql+psycopg://bot@db/bot"),
        ("sqlite:////var/lib/bot/bot.sqlite3", "sqlite:////var/lib/bot/bot.sqlite3"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_database_urls_are_normalised(env: pytest.MonkeyPatch, given: str, expected: str) -> None:
    _set(env, DATABASE_URL=given)
    settings = load_settings()
    assert settings.database_url == expected
    assert settings.is_sqlite == expected.startswith("sqlite")
    assert DatabaseSettings().database_url == expected


def test_database_settings_alone_need_no_slack_or_kibana(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert DatabaseSettings().database_url == f"sqlite:///{tmp_path / 'connector-bot.sqlite3'}"


@pytest.mark.parametrize("url", ["not a url", "kibana.example.com", "ftp://kibana.example.com"])
def test_a_bad_kibana_url_is_named_and_no_secret_is_echoed(
    env: pytest.MonkeyPatch, url: str
) -> None:
    problems = _problems(env, KIBANA_URL=url)
    assert _named(problems, "KIBANA_URL"), problems
    text = "\n".join(problems)
    for secret in (KIBANA_API_KEY, BOT_TOKEN, SIGNING_SECRET):
        assert secret not in text


def test_no_problem_ever_echoes_a_secret_value(env: pytest.MonkeyPatch) -> None:
    bad_bot_token = "xoxp-5555555555-6666666666-SeCrEtUsErToKeN"
    bad_app_token = "xoxb-7777777777-8888888888-NotAnAppToken"
    bad_key = "VERY-SECRET-KIBANA-KEY-0123456789"
    problems = _problems(
        env,
        SLACK_BOT_TOKEN=bad_bot_token,
        SLACK_APP_TOKEN=bad_app_token,
        KIBANA_API_KEY=bad_key,
        ENCRYPTION_KEY="also-secret-but-not-a-fernet-key",
    )
    text = "\n".join(problems)
    assert _named(problems, "SLACK_BOT_TOKEN")
    assert _named(problems, "SLACK_APP_TOKEN")
    for secret in (bad_bot_token, bad_app_token, bad_key, BOT_TOKEN, SIGNING_SECRET):
        assert secret not in text


def test_errors_from_field_types_do_not_echo_the_input(env: pytest.MonkeyPatch) -> None:
    problems = _problems(env, PORT="secret-looking-port-value", KIBANA_URL="https://")
    text = "\n".join(problems)
    assert "secret-looking-port-value" not in text
    assert _named(problems, "PORT")
    assert _named(problems, "KIBANA_URL")


@pytest.mark.parametrize("level", ["debug", "INFO", "Warning"])
def test_log_level_is_upper_cased(env: pytest.MonkeyPatch, level: str) -> None:
    _set(env, LOG_LEVEL=level)
    assert load_settings().log_level == level.upper()


def test_an_unknown_log_level_is_named(env: pytest.MonkeyPatch) -> None:
    problems = _problems(env, LOG_LEVEL="LOUD")
    assert _named(problems, "LOG_LEVEL"), problems


def test_the_slack_api_url_can_point_at_a_fake(env: pytest.MonkeyPatch) -> None:
    _set(env, SLACK_API_URL="http://127.0.0.1:4010/api/")
    assert str(load_settings().slack_api_url) == "http://127.0.0.1:4010/api/"


def test_a_slack_api_url_without_trailing_slash_still_reaches_the_api(
    env: pytest.MonkeyPatch,
) -> None:
    _set(env, SLACK_API_URL="https://slack.com/api")
    assert str(load_settings().slack_api_url).endswith("/api/")


@pytest.mark.parametrize("variable", ["SLACK_SIGNING_SECRET", "KIBANA_API_KEY"])
def test_a_secret_with_a_trailing_newline_is_trimmed_or_refused(
    env: pytest.MonkeyPatch, variable: str
) -> None:
    _set(env, **{variable: VALID[variable] + "\n"})
    problems: list[str] = []
    value = None
    try:
        value = getattr(load_settings(), variable.lower()).get_secret_value()
    except ConfigError as error:
        problems = error.problems
    assert value == VALID[variable] or _named(problems, variable), (value, problems)


def test_a_blank_kibana_api_key_is_refused(env: pytest.MonkeyPatch) -> None:
    problems = _problems(env, KIBANA_API_KEY="   ")
    assert _named(problems, "KIBANA_API_KEY"), problems


@pytest.mark.parametrize(
    ("variable", "value", "example"),
    [
        ("KIBANA_URL", "kibana.example.com", "https://kibana.example.com:5601"),
        ("KIBANA_URL", "kibana.example.com:5601", "https://kibana.example.com:5601"),
        ("SLACK_API_URL", "slack.com/api/", "https://slack.com/api/"),
    ],
)
def test_a_url_without_scheme_says_add_https(
    env: pytest.MonkeyPatch, variable: str, value: str, example: str
) -> None:
    problems = _problems(env, **{variable: value})
    [problem] = _named(problems, variable)
    assert "add https://" in problem
    assert example in problem
    assert "relative URL without a base" not in problem


# --------------------------------------------------------------------------- Elasticsearch

ES_KEY = "ZXNJZDplc0FwaUtleVNlY3JldDAxMjM0NTY3ODk="


def test_without_elasticsearch_everything_is_as_before(env: pytest.MonkeyPatch) -> None:
    _set(env)
    settings = load_settings()
    assert settings.elasticsearch_url is None
    assert settings.elasticsearch_base_url is None
    assert settings.elasticsearch_api_key is None
    assert settings.provision_backend is BackendSetting.AUTO


def test_elasticsearch_is_read(env: pytest.MonkeyPatch) -> None:
    _set(
        env,
        ELASTICSEARCH_URL="https://es.example.com:9200/",
        ELASTICSEARCH_API_KEY=f"  {ES_KEY}\n",
        PROVISION_BACKEND="inference",
    )
    settings = load_settings()
    assert settings.elasticsearch_base_url == "https://es.example.com:9200"
    assert settings.elasticsearch_api_key is not None
    assert settings.elasticsearch_api_key.get_secret_value() == ES_KEY
    assert settings.provision_backend is BackendSetting.INFERENCE


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("auto", BackendSetting.AUTO),
        ("connector", BackendSetting.CONNECTOR),
        (" Connector ", BackendSetting.CONNECTOR),
        ("INFERENCE", BackendSetting.INFERENCE),
    ],
)
def test_provision_backend_is_read(
    env: pytest.MonkeyPatch, given: str, expected: BackendSetting
) -> None:
    _set(
        env,
        ELASTICSEARCH_URL="https://es.example.com:9200",
        ELASTICSEARCH_API_KEY=ES_KEY,
        PROVISION_BACKEND=given,
    )
    assert load_settings().provision_backend is expected


def test_connector_backend_needs_no_elasticsearch(env: pytest.MonkeyPatch) -> None:
    _set(env, PROVISION_BACKEND="connector")
    assert load_settings().provision_backend is BackendSetting.CONNECTOR


@pytest.mark.parametrize("value", ["both", "kibana", "endpoints"])
def test_an_unknown_provision_backend_is_named(env: pytest.MonkeyPatch, value: str) -> None:
    problems = _problems(env, PROVISION_BACKEND=value)
    [problem] = _named(problems, "PROVISION_BACKEND")
    for choice in ("auto", "connector", "inference"):
        assert choice in problem


def test_inference_without_elasticsearch_names_both(env: pytest.MonkeyPatch) -> None:
    problems = _problems(env, PROVISION_BACKEND="inference")
    [problem] = problems
    assert problem.startswith("PROVISION_BACKEND: ")
    assert "ELASTICSEARCH_URL" in problem


def test_an_elasticsearch_url_without_its_key_is_named(env: pytest.MonkeyPatch) -> None:
    problems = _problems(env, ELASTICSEARCH_URL="https://es.example.com:9200")
    [problem] = problems
    assert problem.startswith("ELASTICSEARCH_API_KEY: missing")
    assert "ELASTICSEARCH_URL" in problem


def test_an_empty_elasticsearch_key_counts_as_missing(env: pytest.MonkeyPatch) -> None:
    problems = _problems(
        env, ELASTICSEARCH_URL="https://es.example.com:9200", ELASTICSEARCH_API_KEY=""
    )
    assert [p.split(" ", 2)[:2] for p in problems] == [["ELASTICSEARCH_API_KEY:", "missing;"]]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("   ", "is blank"),
        ("abc def", "contains spaces"),
        ("changeme", "placeholder"),
        ("TODO", "placeholder"),
    ],
)
def test_a_bad_elasticsearch_key_is_refused_without_echoing_it(
    env: pytest.MonkeyPatch, value: str, message: str
) -> None:
    problems = _problems(
        env, ELASTICSEARCH_URL="https://es.example.com:9200", ELASTICSEARCH_API_KEY=value
    )
    [problem] = _named(problems, "ELASTICSEARCH_API_KEY")
    assert message in problem
    if value.strip():
        assert value not in problem


@pytest.mark.parametrize(
    ("value", "expect"),
    [
        ("es.example.com", "add https://"),
        ("es.example.com:9200", "add https://"),
        ("ftp://es.example.com", "URL scheme"),
        ("not a url", ""),
    ],
)
def test_a_bad_elasticsearch_url_is_named_like_kibanas(
    env: pytest.MonkeyPatch, value: str, expect: str
) -> None:
    problems = _problems(env, ELASTICSEARCH_URL=value, ELASTICSEARCH_API_KEY=ES_KEY)
    [problem] = problems  # the key and the backend say nothing about a URL that is named
    assert problem.startswith("ELASTICSEARCH_URL: ")
    assert expect in problem
    if expect == "add https://":
        assert "https://elasticsearch.example.com:9200" in problem
    assert ES_KEY not in problem


def test_a_bad_elasticsearch_url_with_forced_inference_is_named_once(
    env: pytest.MonkeyPatch,
) -> None:
    problems = _problems(
        env,
        ELASTICSEARCH_URL="es.example.com",
        ELASTICSEARCH_API_KEY=ES_KEY,
        PROVISION_BACKEND="inference",
    )
    assert [p.split(":", 1)[0] for p in problems] == ["ELASTICSEARCH_URL"]


def test_the_elasticsearch_key_is_masked_in_logs(env: pytest.MonkeyPatch) -> None:
    _set(env, ELASTICSEARCH_URL="https://es.example.com:9200", ELASTICSEARCH_API_KEY=ES_KEY)
    secrets = _secrets_of(load_settings())
    assert ES_KEY in secrets
    line = RedactingFilter(secrets).redact(f"calling es with ApiKey {ES_KEY} now")
    assert ES_KEY not in line
    assert MASK in line


def test_with_policy_file_kibana_url_kibana_api_key_and_approvers_are_optional(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _set(env, KIBANA_URL=None, KIBANA_API_KEY=None, APPROVERS=None, POLICY_FILE=" policy.yml ")
    settings = load_settings()
    assert settings.policy_file == Path("policy.yml")
    assert settings.kibana_url is None
    assert settings.kibana_api_key is None
    assert settings.approvers == []
    assert settings.ignored_by_policy_file() == []


def test_with_policy_file_the_variables_it_replaces_are_named_as_ignored(
    env: pytest.MonkeyPatch,
) -> None:
    _set(env, POLICY_FILE="policy.yml", ELASTICSEARCH_URL="https://es.example.com")
    env.setenv("ELASTICSEARCH_API_KEY", KIBANA_API_KEY)
    assert load_settings().ignored_by_policy_file() == [
        "KIBANA_URL",
        "APPROVERS",
        "ELASTICSEARCH_URL",
    ]


def test_with_policy_file_bad_values_of_the_replaced_variables_still_count(
    env: pytest.MonkeyPatch,
) -> None:
    problems = _problems(env, POLICY_FILE="policy.yml", APPROVERS="alice")
    assert _named(problems, "APPROVERS"), problems


def test_with_policy_file_inference_needs_no_elasticsearch_url(env: pytest.MonkeyPatch) -> None:
    _set(env, POLICY_FILE="policy.yml", PROVISION_BACKEND="inference")
    assert load_settings().provision_backend is BackendSetting.INFERENCE


def test_audit_index_is_an_optional_data_stream_name(env: pytest.MonkeyPatch) -> None:
    _set(env)
    assert load_settings().audit_index is None
    _set(env, AUDIT_INDEX=" logs-llm_connector.audit-default ")
    assert load_settings().audit_index == "logs-llm_connector.audit-default"
    for bad, why in (("Audit", "lowercase"), ("a*b", "must not contain *"), ("_x", "start")):
        [problem] = _problems(env, AUDIT_INDEX=bad)
        assert problem.startswith("AUDIT_INDEX: ")
        assert why in problem


def test_the_sweep_interval_is_configurable_and_checked(env: pytest.MonkeyPatch) -> None:
    _set(env)
    assert load_settings().sweep_seconds == 30.0
    _set(env, SWEEP_SECONDS="5")
    assert load_settings().sweep_seconds == 5.0
    assert _named(_problems(env, SWEEP_SECONDS="0"), "SWEEP_SECONDS")


def test_lifecycle_settings_are_read_and_checked(env: pytest.MonkeyPatch) -> None:
    _set(env, LIFECYCLE_CONCURRENCY="8", LIFECYCLE_SWEEP_SECONDS="5")
    settings = load_settings()
    assert (settings.lifecycle_concurrency, settings.lifecycle_sweep_seconds) == (8, 5.0)
    problems = _problems(env, LIFECYCLE_CONCURRENCY="0")
    assert _named(problems, "LIFECYCLE_CONCURRENCY"), problems
