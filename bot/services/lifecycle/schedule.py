"""The lifecycle sweep: everything scheduled is found in the database and claimed there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.services.lifecycle.expiry import schedule_expiry
from bot.services.lifecycle.reconcile import schedule_digest, schedule_reconcile
from bot.services.lifecycle.retests import schedule_due_retests

if TYPE_CHECKING:
    from bot.deps import Deps


@dataclass(frozen=True)
class SweepResult:
    retests: int
    reconciliations: int
    digest: bool
    expiry_warnings: int = 0
    expiries: int = 0


def run_lifecycle_sweep(deps: Deps) -> SweepResult:
    """Queue the due re-tests, reconciliations, the digest, and the expiry warnings and
    deletions (each claimed exactly once)."""
    warnings, expiries = schedule_expiry(deps)
    return SweepResult(
        retests=schedule_due_retests(deps),
        reconciliations=schedule_reconcile(deps),
        digest=schedule_digest(deps),
        expiry_warnings=warnings,
        expiries=expiries,
    )
