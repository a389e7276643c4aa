"""A Kibana deployment the bot provisions into (a policy file's `targets:` entry)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TARGET = "default"  # the key of the one target built from KIBANA_URL without a file


@dataclass(frozen=True)
class Target:
    """One deployment: its Kibana, optionally its Elasticsearch, and the spaces offered.

    The API keys are never here: only the names of the environment variables holding them
    (``None`` means the variables of the runtime contract, KIBANA_API_KEY and
    ELASTICSEARCH_API_KEY).
    """

    key: str
    kibana_url: str
    kibana_api_key_env: str | None = None
    elasticsearch_url: str | None = None
    elasticsearch_api_key_env: str | None = None
    spaces: frozenset[str] | None = None  # allow-list; None offers every space Kibana has
    label: str | None = None

    @property
    def display(self) -> str:
        """How forms and cards name the target."""
        return self.label or self.key

    def allows_space(self, space_id: str) -> bool:
        return self.spaces is None or space_id in self.spaces
