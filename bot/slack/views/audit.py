"""What the bot says about audit exports: the ack, the refusal, the DM with the file."""

from __future__ import annotations

from bot.domain.audit import EXAMPLE_RANGE, AuditExport, AuditRange
from bot.slack.views.common import escape


def export_usage(command: str) -> str:
    return (
        f"Say which days, e.g. `{command} audit {EXAMPLE_RANGE}` (UTC, both days included), "
        "or ISO 8601 times."
    )


def export_queued_text(period: AuditRange) -> str:
    return (
        f"Building the audit export from {escape(period.describe())}; "
        "I'll send the file to you in a DM."
    )


def bad_range_text(problem: str, command: str) -> str:
    return f"{escape(problem)}\n{export_usage(command)}"


def export_refused_text(message: str) -> str:
    return escape(message)


def export_empty_text(export: AuditExport) -> str:
    return f"The audit trail has no events from {escape(export.period.describe())}."


def export_comment(export: AuditExport) -> str:
    text = (
        f"The audit trail from {escape(export.period.describe())}: {export.events} events, "
        "one JSON object a line."
    )
    if export.truncated:
        text += (
            f" The file stops there, at {_size(export.max_bytes)}: ask for a shorter range, or "
            "have the operator run `python -m bot audit` for everything."
        )
    return text


def _size(count: int) -> str:
    megabytes = count / (1024 * 1024)
    return f"{megabytes:g} MB" if megabytes >= 1 else f"{count // 1024 or 1} KB"
