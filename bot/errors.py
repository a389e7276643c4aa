"""Errors the bot shows to people.

Every error carries ``user_message``: text safe to show in Slack (never a secret, never a
traceback).

    BotError
    ├── NotAuthorizedError        the person may not do this (not an approver, own request)
    ├── InvalidTransitionError    the request is no longer in a state that allows it
    ├── RequestNotFoundError      no request with that reference
    └── ProvisioningError         Kibana refused or could not be reached (wraps KibanaError)
"""

from __future__ import annotations


class BotError(Exception):
    """Root of the errors whose message is meant for the person who acted."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class NotAuthorizedError(BotError):
    """The actor is not allowed to take this action."""


class InvalidTransitionError(BotError):
    """The request's state no longer allows the action (already decided, finished…)."""


class RequestNotFoundError(BotError):
    """No request matches the reference or id given."""


class ProvisioningError(BotError):
    """Kibana refused the connector, or could not be reached."""


class UnknownTargetError(BotError):
    """A request or command names a target the policy does not have (any more)."""
