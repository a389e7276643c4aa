"""Hypothesis strategies for the request form: every provider, random and hostile values."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from bot.domain.enums import Provider
from bot.domain.fields import FormValues
from bot.domain.providers import PROVIDERS
from bot.slack.views.request_modal import build_request_view, form_fields
from tests.unit.domain import samples

HOSTILE_VALUES = [
    "<!channel>",
    "<!here> <@U0EVIL> <#C0EVIL> <https://evil.example/login|Kibana SSO>",
    "&amp; &lt; > <",
    "\u202egnp.exe",
    "\u200b\u200c\u200d\ufeff",
    "\x00",
    "line\nbreak",
    "\ud800",
    "\udfff\ud800x",
    '{"type": "service_account"',
    '{"type": "service_account", "project_id": 7, "private_key": null, "client_email": []}',
    '{"type": "service_account", "project_id": "p", "private_key": "x", "client_email": "e"}',
    "[" * 3000,
    "{" * 2000,
    '"\\ud800"',
    "null",
    "1e999",
    "NaN",
    "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----",
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" * 3,
    "-----BEGIN RSA PRIVATE KEY-----",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "data:text/html,<script>x</script>",
    "gopher://host:70/x",
    "//host/v1/chat/completions",
    "https://[::1/v1/chat/completions",
    "https://[::1]:99999/v1/chat/completions",
    "https://host:-1/v1/chat/completions",
    "https://a:b@host/v1/chat/completions",
    "https://host/v1/chat/completions?api_key=sk-1&api-version=2024-10-21",
    "https://host/v1/chat/completions?api-version=<!channel>",
    "https://xn--n3h.example/v1/chat/completions",
    "https://%zz/v1/chat/completions",
    "https://host\x00/v1/chat/completions",
    "https://bedrock-runtime.us-east-1.amazonaws.com/model?x=1",
    "https://us-central1-aiplatform.googleapis.com?x",
    "http://169.254.169.254/latest/meta-data/",
    "arn:aws:bedrock:us-east-1:123:provisioned-model/x",
    "arn%3A",
    "true",
    "full",
    "none",
    "AKIA" + "A" * 16,
    "ASIA" + "A" * 16,
    "sk-" + "x" * 300,
]

text = st.text(max_size=60)
surrogate = st.integers(0xD800, 0xDFFF).map(chr)  # st.characters() never draws these
control = st.integers(0, 0x1F).map(chr)
any_chars = st.text(alphabet=st.one_of(st.characters(), surrogate, control), max_size=40)
huge = st.builds(lambda char, count: char * count, st.characters(), st.integers(1000, 12000))
listed = st.sampled_from(HOSTILE_VALUES)
hostile = st.one_of(listed, listed, any_chars, any_chars, text, huge)


def field_keys(provider: Provider) -> list[str]:
    return [spec.key for spec in form_fields(PROVIDERS[provider])]


@st.composite
def form_values(draw: st.DrawFn, provider: Provider, *, unique_name: bool = False) -> FormValues:
    """A valid form for ``provider`` with a few fields replaced, extended, blanked or dropped.

    ``unique_name`` makes each name differ, so that forms submitted one after the other are
    not refused only because an earlier one holds the name."""
    values = samples.valid_values(provider)
    keys = field_keys(provider)
    if not keys:
        return {key: draw(hostile) for key in draw(st.lists(text, max_size=3))}
    if unique_name:
        values["name"] += f" {draw(st.integers(0, 10**9))}"
    for key in draw(st.sets(st.sampled_from(keys), max_size=2)):
        change = draw(st.sampled_from(["replace", "append", "append", "blank", "drop"]))
        if change == "replace":
            values[key] = draw(hostile)
        elif change == "append":
            values[key] = values.get(key, "") + draw(hostile)
        elif change == "blank":
            values[key] = ""
        else:
            values.pop(key, None)
    return values


providers = st.sampled_from(list(PROVIDERS))


def input_block_ids(provider: Provider) -> set[str]:
    view: dict[str, Any] = build_request_view(PROVIDERS[provider]).to_dict()
    return {block["block_id"] for block in view["blocks"] if block.get("type") == "input"}
