"""The policy at submit: which rule decides a new request, or why it is refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.db import queries
from bot.deps import Deps
from bot.domain.policy.matching import match_rule
from bot.domain.policy.model import Rule
from bot.domain.providers.spec import ProviderDraft
from bot.errors import BotError
from bot.services import approvers

AUTO_APPROVE_WINDOW = timedelta(days=1)


class PolicyRefusedError(BotError):
    """The policy refuses the request at submit (no rule, a deny rule, the daily limit)."""


@dataclass(frozen=True)
class AutoApproval:
    """The request is approved by the policy: the ``count``-th of ``limit`` today."""

    count: int
    limit: int

    @property
    def reason(self) -> str:
        return f"auto-approve, {self.count} of {self.limit} today"


def draft_model(draft: ProviderDraft[Any, Any]) -> str | None:
    """The model a new request asks for, as rules match it (None: the provider's default)."""
    value = getattr(draft.settings, "model", None)
    return str(value) if value else None


def rule_for(deps: Deps, draft: ProviderDraft[Any, Any], *, requester: str, target: str) -> Rule:
    """The first rule that covers the request, allowing it; PolicyRefusedError otherwise."""
    return rule_matching(
        deps,
        target=target,
        space=draft.space_id,
        provider=draft.provider.value,
        requester=requester,
        model=draft_model(draft),
    )


def rule_matching(
    deps: Deps, *, target: str, space: str, provider: str, requester: str, model: str | None
) -> Rule:
    """The first rule that covers these facts (a new request's, or a managed connector's for
    a change to it), allowing them; PolicyRefusedError otherwise."""
    facts = approvers.facts(
        deps, target=target, space=space, provider=provider, requester=requester, model=model
    )
    rule = match_rule(deps.governance, facts)
    if rule is None:
        found = deps.governance.target(target)
        where = found.display if found is not None else target
        raise PolicyRefusedError(
            f"No approval rule covers {provider} in space '{space}' of {where}: ask an admin."
        )
    if not rule.allow:
        raise PolicyRefusedError(
            rule.message or f"The approval policy ({rule.label}) does not allow this request."
        )
    return rule


def auto_approval(
    session: Session, rule: Rule, *, requester: str, now: datetime
) -> AutoApproval | None:
    """The auto-approval the rule grants now, or None (approvers decide); refused when the
    requester is at the limit and nobody could approve instead."""
    if rule.auto_approve is None:
        return None
    limit = rule.auto_approve.max_per_requester_per_day
    used = queries.count_auto_approved(
        session=session, requester=requester, since=now - AUTO_APPROVE_WINDOW
    )
    if used < limit:
        return AutoApproval(count=used + 1, limit=limit)
    if not rule.approvers:
        raise PolicyRefusedError(
            f"You've had {used} auto-approved today; the limit is {limit} per day."
        )
    return None
