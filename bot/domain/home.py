"""What one person's App Home shows, read from the database; rendered by slack/views/home."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.lifecycle import ManagedSummary
from bot.domain.schemas import RequestSnapshot

# At most this many items per section (Slack allows 100 blocks per Home view).
OPEN_SHOWN = 10
AWAITING_SHOWN = 15
CONNECTORS_SHOWN = 10
DECISIONS_SHOWN = 20


@dataclass(frozen=True)
class Listed:
    """The first items of a section and how many there are in all."""

    items: list[RequestSnapshot] = field(default_factory=list)
    total: int = 0

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.items))


@dataclass(frozen=True)
class Owned:
    """The first connectors of someone's inventory and how many they own in all."""

    items: list[ManagedSummary] = field(default_factory=list)
    total: int = 0

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.items))


@dataclass(frozen=True)
class DecisionLine:
    reference: str
    connector_name: str
    provider_label: str
    decision: str  # "approved" or "rejected"
    decided_by: str
    decided_at: datetime
    reason: str | None


@dataclass(frozen=True)
class HomeContent:
    user: str
    approver: bool
    open_requests: Listed
    awaiting: Listed
    connectors: Owned
    decisions: list[DecisionLine]  # empty for people who are not approvers
    # Shown at the top, e.g. why a click on the Home tab was refused: the bot's own mrkdwn,
    # in which anything user-supplied was already escaped (as in an ephemeral answer).
    notice: str | None = None
