"""Plain-language causes and fixes for what Kibana says when a connector fails.

Hints that only make sense for one connector type live in that type's description
(`bot.domain.connector_types`); the ones here apply to any type.
"""

from __future__ import annotations

from bot.domain.connector_types import CONNECTOR_TYPES, connector_type
from bot.domain.connector_types.spec import Hint, hint

ALLOWED_HOSTS = "xpack.actions.allowedHosts"
CUSTOM_HOSTS = "xpack.actions.customHostSettings"

# Kibana's own refusals: tried first, whatever the type.
KIBANA_HINTS: tuple[Hint, ...] = (
    hint(
        r"not added to the Kibana config xpack\.actions\.allowedHosts",
        f"Kibana may not call this host: add it to {ALLOWED_HOSTS} in kibana.yml and restart "
        "Kibana, or use an allowed host.",
    ),
    hint(
        r"license does not support|license has expired|Please upgrade your license",
        "LLM connectors need an Enterprise licence (or a trial) on this Kibana.",
    ),
    hint(
        r"Unauthorized to (create|execute)|not enabled in the Kibana config",
        "The bot's Kibana API key lacks “Actions and Connectors: All” in this space, or the "
        "connector type is disabled in xpack.actions.enabledActionTypes.",
    ),
)

# What any provider may answer: tried after the type's own hints.
PROVIDER_HINTS: tuple[Hint, ...] = (
    hint(
        r"Status code: 401|Unauthorized API Error|invalid.api.key|Incorrect API key",
        "The provider rejected the key: create a new one and request the connector again "
        "(for Azure use KEY 1/KEY 2 of the resource; for self-managed servers, the proxy's "
        "bearer token).",
    ),
    hint(
        r"model.{0,40}(does not exist|not found|unknown)|The model `",
        "The model name is unknown to the provider (or your key has no access to it): check "
        "the exact model id.",
    ),
    hint(
        r"is deprecated for this model|Unsupported parameter|unsupported_parameter",
        "The model rejects a parameter the connector sends (e.g. temperature): remove it from "
        "the connector settings, or pick another model.",
    ),
    hint(
        r"Certificate error|TLS handshake failed|self.signed|CERT_|certificate",
        f"Kibana does not trust the server's certificate: supply the CA, fix the host name, "
        f"configure {CUSTOM_HOSTS}, or change the TLS verification mode.",
    ),
    hint(
        r"ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ECONNRESET|ETIMEDOUT|socket hang up",
        f"Kibana cannot reach the host (refused, unknown name or no route). Remember Kibana, "
        f"not the bot, makes the call: localhost means Kibana's own machine. Check DNS, "
        f"firewalls, {ALLOWED_HOSTS} and proxies.",
    ),
    hint(
        r"ECONNABORTED|timeout of \d+ms exceeded|Request aborted",
        "The model server did not answer in time: check it is up and the model is loaded, "
        "then test again.",
    ),
    hint(
        r"Sub action \"test\" is not registered",
        "This connector type has no `test` sub-action (it is an .inference connector): it is "
        "tested with unified_completion.",
    ),
)

# Every hint the bot knows, once each.
HINTS: tuple[Hint, ...] = tuple(
    dict.fromkeys(
        (
            *KIBANA_HINTS,
            *(h for kind in CONNECTOR_TYPES.values() for h in kind.hints),
            *PROVIDER_HINTS,
        )
    )
)


def hints_for(connector_type_id: str | None) -> tuple[Hint, ...]:
    """The hints tried for a failure of this type, in order: Kibana's, the type's, generic."""
    kind = connector_type(connector_type_id) if connector_type_id else None
    return (*KIBANA_HINTS, *(kind.hints if kind else ()), *PROVIDER_HINTS)


def explain_failure(connector_type_id: str | None, *texts: str | None) -> str | None:
    """Return the first matching cause-and-fix for Kibana's message(s), or None."""
    haystack = "\n".join(text for text in texts if text)
    if not haystack:
        return None
    for candidate in hints_for(connector_type_id):
        if candidate.pattern.search(haystack):
            return candidate.text
    return None
