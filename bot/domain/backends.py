"""Which back-end a request ends in: a Kibana connector or an Elasticsearch inference endpoint.

Since 9.4 Kibana's AI features accept ``chat_completion`` inference endpoints beside the stack
connectors (and 9.5 deprecates the LLM connector types), so on a 9.4+ stack with Elasticsearch
configured endpoints are the default; before 9.4 AI features only see connectors. Serverless
runs the newest code: its version number is not meaningful, only its build flavour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

ENDPOINTS_SINCE = (9, 4)  # Kibana lists inference endpoints beside connectors (kibana#256071)
CONNECTORS_DEPRECATED_SINCE = (9, 5)  # .gen-ai, .bedrock, .gemini, .inference deprecated
LLM_CONNECTORS_SINCE = (8, 8)  # the first LLM connector type (.gen-ai, 8.8.1)

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?(?:-([0-9A-Za-z][0-9A-Za-z.-]*))?")


class Backend(StrEnum):
    """Where a request's LLM access is created."""

    CONNECTOR = "connector"  # a Kibana stack connector, per space
    INFERENCE = "inference"  # an Elasticsearch chat_completion inference endpoint, cluster-wide


class BackendSetting(StrEnum):
    """PROVISION_BACKEND: let the bot choose from the stack version, or force one back-end."""

    AUTO = "auto"
    CONNECTOR = "connector"
    INFERENCE = "inference"


@dataclass(frozen=True)
class StackVersion:
    """A Kibana or Elasticsearch version as reported by the stack, or serverless (no number).

    Comparisons use major.minor.patch only: a ``-SNAPSHOT`` or ``-beta1`` build of 9.4.0 has the
    features of 9.4. Serverless is newer than every numbered release.
    """

    major: int = 0
    minor: int = 0
    patch: int = 0
    prerelease: str = ""
    serverless: bool = False

    @classmethod
    def parse(cls, number: str | None, *, build_flavor: str | None = None) -> StackVersion:
        """Read ``version.number`` and ``version.build_flavor``; ValueError when unreadable.

        On serverless the number is ignored ("not meaningful for assessing feature
        availability"), so it may be missing.
        """
        if (build_flavor or "").strip().lower() == "serverless":
            return cls(serverless=True)
        text = (number or "").strip()
        match = _VERSION.fullmatch(text)
        if match is None:
            raise ValueError(f"not a stack version: {text[:40]!r}")
        major, minor, patch, prerelease = match.groups()
        return cls(int(major), int(minor), int(patch or 0), prerelease or "")

    @property
    def release(self) -> tuple[int, int, int]:
        """major.minor.patch, for comparisons."""
        return (self.major, self.minor, self.patch)

    def at_least(self, major: int, minor: int = 0) -> bool:
        """Whether this stack has what release ``major.minor`` brought (serverless: always)."""
        return self.serverless or (self.major, self.minor) >= (major, minor)

    def is_older_than(self, other: StackVersion) -> bool:
        """Whether this is an earlier release than ``other`` (serverless is the newest)."""
        if self.serverless or other.serverless:
            return other.serverless and not self.serverless
        return self.release < other.release

    def __str__(self) -> str:
        if self.serverless:
            return "serverless"
        text = f"{self.major}.{self.minor}.{self.patch}"
        return f"{text}-{self.prerelease}" if self.prerelease else text


@dataclass(frozen=True)
class BackendChoice:
    """The back-end chosen and why, in a short sentence for the form and the approval card.

    ``stack`` is the version the choice went by (the lower of Kibana's and Elasticsearch's when
    both answered), None when it was not known or not needed.
    """

    backend: Backend
    reason: str
    stack: StackVersion | None = None


def _named(product: str, version: StackVersion) -> str:
    return f"{product} serverless" if version.serverless else f"{product} {version}"


def _since(release: tuple[int, int]) -> str:
    return f"{release[0]}.{release[1]}+"


def _effective(
    kibana: StackVersion | None, elasticsearch: StackVersion | None
) -> tuple[StackVersion | None, str]:
    """The version to go by and how to name it; Kibana's decides what AI features see."""
    if kibana is None:
        if elasticsearch is not None and elasticsearch.serverless:
            # A serverless project's Kibana is serverless too.
            return elasticsearch, "Elasticsearch serverless (Kibana did not answer)"
        return None, ""
    if elasticsearch is None or elasticsearch == kibana:
        return kibana, _named("Kibana", kibana)
    if elasticsearch.is_older_than(kibana):
        lower, other = elasticsearch, "Elasticsearch"
    elif kibana.is_older_than(elasticsearch):
        lower, other = kibana, "Kibana"
    else:  # same release, different pre-release tag
        return kibana, _named("Kibana", kibana)
    return lower, (
        f"{_named('Kibana', kibana)} and {_named('Elasticsearch', elasticsearch)} disagree, "
        f"going by the lower ({other} {lower})"
    )


def _forced(
    setting: BackendSetting,
    kibana: StackVersion | None,
    elasticsearch: StackVersion | None,
    elasticsearch_configured: bool,
) -> BackendChoice:
    stack, named = _effective(kibana, elasticsearch)
    if setting is BackendSetting.CONNECTOR:
        reason = "forced by PROVISION_BACKEND=connector"
        if stack is not None and stack.at_least(*CONNECTORS_DEPRECATED_SINCE):
            reason += f" ({named} deprecates the LLM connector types)"
        return BackendChoice(Backend.CONNECTOR, reason, stack)
    if not elasticsearch_configured:
        # Settings refuse this at start; answered anyway rather than failing later.
        return BackendChoice(
            Backend.CONNECTOR,
            "PROVISION_BACKEND=inference but Elasticsearch not configured "
            "(no ELASTICSEARCH_URL): connectors",
            stack,
        )
    reason = "forced by PROVISION_BACKEND=inference"
    if stack is not None and not stack.at_least(*ENDPOINTS_SINCE):
        reason += (
            f" ({named}: AI features list inference endpoints only from {_since(ENDPOINTS_SINCE)})"
        )
    return BackendChoice(Backend.INFERENCE, reason, stack)


def choose_backend(
    setting: BackendSetting | str,
    kibana: StackVersion | None,
    elasticsearch: StackVersion | None,
    elasticsearch_configured: bool,
) -> BackendChoice:
    """Choose the back-end from PROVISION_BACKEND and the versions the stack reported.

    Args:
        setting: PROVISION_BACKEND (``auto``, ``connector`` or ``inference``).
        kibana: Kibana's version, None when Kibana did not answer.
        elasticsearch: Elasticsearch's version, None when not configured or it did not answer.
        elasticsearch_configured: whether ELASTICSEARCH_URL is set.
    """
    setting = BackendSetting(setting)
    if setting is not BackendSetting.AUTO:
        return _forced(setting, kibana, elasticsearch, elasticsearch_configured)
    if not elasticsearch_configured:
        where = f"{_named('Kibana', kibana)}, " if kibana is not None else ""
        return BackendChoice(
            Backend.CONNECTOR,
            f"{where}Elasticsearch not configured (no ELASTICSEARCH_URL): connectors",
            kibana,
        )
    stack, named = _effective(kibana, elasticsearch)
    if stack is not None and elasticsearch is None:
        named += " (Elasticsearch did not answer)"
    if stack is None:
        return BackendChoice(
            Backend.CONNECTOR, "stack version unknown (Kibana did not answer): connectors"
        )
    if stack.at_least(*ENDPOINTS_SINCE):
        return BackendChoice(
            Backend.INFERENCE,
            f"{named} with Elasticsearch configured: inference endpoints, the way Kibana "
            f"{_since(ENDPOINTS_SINCE)} connects AI features to LLMs",
            stack,
        )
    reason = f"{named}: connectors (inference endpoints need {_since(ENDPOINTS_SINCE)}"
    if not stack.at_least(*LLM_CONNECTORS_SINCE):
        reason += f", and LLM connector types need Kibana {_since(LLM_CONNECTORS_SINCE)}"
    return BackendChoice(Backend.CONNECTOR, reason + ")", stack)


CLUSTER_WIDE_NOTE = (
    "Inference endpoints are cluster-wide (every space sees them); connectors are per space."
)


def for_provider(
    choice: BackendChoice, supported: frozenset[str], *, inference_possible: bool = True
) -> BackendChoice | None:
    """The stack's choice as it applies to one provider: a provider that does not support the
    chosen back-end falls back to the other one (saying why), or None when it supports neither
    (it cannot be requested on this stack). ``inference_possible`` is False when endpoints
    cannot be made at all (no Elasticsearch configured, or PROVISION_BACKEND=connector)."""
    if choice.backend.value in supported:
        return choice
    other = Backend.CONNECTOR if choice.backend is Backend.INFERENCE else Backend.INFERENCE
    if other.value not in supported or (other is Backend.INFERENCE and not inference_possible):
        return None
    if other is Backend.INFERENCE:
        return BackendChoice(
            other,
            f"{choice.reason}; but this provider is only offered as an Elasticsearch "
            "inference endpoint",
            choice.stack,
        )
    return BackendChoice(
        other,
        f"{choice.reason}; but this provider has no inference endpoint here: a connector",
        choice.stack,
    )
