"""Text that could disguise itself, break storage or carry a credential is refused under its
field, with a message saying what to change; URLs are redacted wherever they are shown."""

from __future__ import annotations

import json

import pytest

from bot.domain.enums import Provider
from bot.domain.fields import REDACTED, is_secret_param, redact_url, redact_urls
from bot.domain.providers import PROVIDERS, provider_spec
from tests.unit.domain import samples as s

CREATING = [key for key, spec in PROVIDERS.items() if spec.creates_connector]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]


def _errors(provider: Provider, **overrides: str) -> dict[str, str]:
    return provider_spec(provider).parse(s.valid_values(provider, **overrides)).errors


# --------------------------------------------------------------------------- item 2: names


@pytest.mark.parametrize(
    "name",
    [
        "\u200b",
        "\u200b\u200c\u200d\u2060\ufeff",
        "\u00ad\u180e",
        "\u3164\u3164",  # Hangul filler: a "letter" that renders as nothing
        "\u2800",
        "\x01\x02",
        "\u0301\u0302",
        " \u200b \u2003 ",
    ],
    ids=repr,
)
@pytest.mark.parametrize("provider", CREATING)
def test_a_name_with_nothing_visible_is_refused(provider: Provider, name: str) -> None:
    errors = _errors(provider, name=name)
    assert list(errors) == ["name"], errors
    assert "visible" in errors["name"] or "control characters" in errors["name"]


@pytest.mark.parametrize("name", ["SOC\nassistant", "SOC\r\nGPT", "SOC\u2028GPT", "a\x85b"])
def test_a_name_with_a_line_break_is_refused(name: str) -> None:
    errors = _errors(Provider.OPENAI, name=name)
    assert errors == {"name": "Keep the name on one line: remove the line breaks."}


def test_a_name_with_a_control_character_is_refused() -> None:
    errors = _errors(Provider.OPENAI, name="SOC\x00GPT")
    assert list(errors) == ["name"]
    assert "control characters" in errors["name"]


@pytest.mark.parametrize("char", BIDI, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("key", ["name", "justification"])
def test_bidi_overrides_are_refused_in_name_and_justification(key: str, char: str) -> None:
    errors = _errors(Provider.OPENAI, **{key: f"SOC assistant {char}gnp.exe"})
    assert list(errors) == [key], errors
    assert "bidirectional" in errors[key]


@pytest.mark.parametrize("provider", CREATING)
def test_bidi_overrides_are_refused_in_every_field(provider: Provider) -> None:
    for key in s.valid_values(provider):
        value = s.valid_values(provider)[key]
        errors = _errors(provider, **{key: value[:1] + "\u202e" + value[1:]})
        assert "bidirectional" in errors.get(key, ""), (key, errors)


def test_visible_names_with_joiners_and_other_scripts_pass() -> None:
    for name in ("SOC 👩‍💻 assistant", "Équipe sécurité", "セキュリティ GPT", "soc\u200bgpt"):
        assert _errors(Provider.OPENAI, name=name) == {}, name


def test_justification_may_span_lines_but_not_hold_control_bytes() -> None:
    assert _errors(Provider.OPENAI, justification="For the SOC.\r\n\tAttack Discovery.") == {}
    errors = _errors(Provider.OPENAI, justification="For the SOC\x00")
    assert "control characters" in errors["justification"]


def test_unpaired_surrogates_are_refused_not_crashed_on() -> None:
    errors = _errors(Provider.VLLM, name="SOC \ud800", certificate_pem="\udfff")
    assert "broken characters" in errors["name"]
    assert "broken characters" in errors["certificate_pem"]


def test_a_forged_value_longer_than_the_field_allows_is_refused() -> None:
    errors = _errors(Provider.OPENAI, api_url=s.OPENAI_URL + "?q=" + "a" * 600)
    assert errors == {"api_url": "Keep it to 500 characters (it has 645)."}


def test_a_forged_select_value_is_refused() -> None:
    errors = _errors(Provider.VLLM, verification_mode="<!channel>")
    assert list(errors) == ["verification_mode"]


def test_a_key_file_nested_too_deep_is_an_error_not_a_crash() -> None:
    errors = _errors(Provider.VERTEX, credentials_json="[" * 3000)
    assert list(errors) == ["credentials_json"]


# --------------------------------------------------------------------------- item 4: URLs

SECRET_QUERIES = [
    "api_key=sk-proj-abc123",
    "API_KEY=sk-proj-abc123",
    "apikey=abc",
    "api-key=abc",
    "x-api-key=abc",
    "key=AIzaSyA-abc",
    "token=abc",
    "access_token=abc",
    "Access-Token=abc",
    "sig=abc",
    "signature=abc",
    "code=abc",
    "password=abc",
    "client_secret=abc",
    "subscription-key=abc",
    "X-Amz-Security-Token=abc",
    "X-Amz-Credential=abc",
    "auth=abc",
    "api%5Fkey=abc",
]


def _url_for(provider: Provider, query: str) -> str:
    url = s.valid_values(provider)["api_url"]
    return f"{url}{'&' if '?' in url else '?'}{query}"


@pytest.mark.parametrize("query", SECRET_QUERIES)
@pytest.mark.parametrize("provider", CREATING)
def test_a_credential_in_the_query_string_is_refused_with_the_reason(
    provider: Provider, query: str
) -> None:
    errors = _errors(provider, api_url=_url_for(provider, query))
    message = errors["api_url"]
    assert "Don't put credentials in the URL" in message
    assert "plain config, visible to anyone who can read connectors" in message
    assert "key field" in message
    assert "abc" not in message  # the value is never echoed back


@pytest.mark.parametrize("provider", CREATING)
@pytest.mark.parametrize(
    "netloc", ["user:pass@", "token@", ":pass@", "@", "a@b@"], ids=lambda n: repr(n)
)
def test_userinfo_in_the_url_is_refused_with_the_reason(provider: Provider, netloc: str) -> None:
    url = s.valid_values(provider)["api_url"].replace("://", f"://{netloc}", 1)
    message = _errors(provider, api_url=url)["api_url"]
    assert "Don't put credentials in the URL" in message
    assert "plain config" in message


def test_azure_api_version_and_plain_parameters_stay_accepted() -> None:
    assert _errors(Provider.AZURE_OPENAI) == {}
    assert _errors(Provider.AZURE_OPENAI, api_url=s.AZURE_URL + "&foo=bar") == {}
    assert not is_secret_param("api-version")
    assert not is_secret_param("model")
    assert _errors(Provider.OPENAI_COMPATIBLE, api_url=s.GATEWAY_URL + "?region=eu") == {}


def test_redaction_hides_userinfo_and_credential_values_only() -> None:
    url = "https://bob:hunter2@gw.example/v1/chat?api-version=2024-10-21&api_key=sk-1&Key=2#x"
    assert redact_url(url) == (
        f"https://{REDACTED}@gw.example/v1/chat?api-version=2024-10-21"
        f"&api_key={REDACTED}&Key={REDACTED}#x"
    )
    assert redact_url(s.AZURE_URL) == s.AZURE_URL
    broken = "https://u:secretpw@[::1/v1?token=t0ken"
    assert "secretpw" not in redact_url(broken)
    assert "t0ken" not in redact_url(broken)
    text = f"Kibana said: error calling {url}. Check {s.OPENAI_URL}."
    shown = redact_urls(text)
    assert "hunter2" not in shown
    assert "sk-1" not in shown
    assert s.OPENAI_URL in shown


def test_a_stored_secret_url_is_built_into_config_only_if_it_passed() -> None:
    """Defence in depth lives in the views; the checks are what keep it out of Kibana."""
    values = s.valid_values(Provider.OPENAI, api_url=s.OPENAI_URL + "?api_key=sk-1")
    result = provider_spec(Provider.OPENAI).parse(values)
    assert not result.ok
    assert "sk-1" not in json.dumps(result.errors)
