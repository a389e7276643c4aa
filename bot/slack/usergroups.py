"""The directory's Slack side: `usergroups.users.list` (scope usergroups:read)."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services.directory import GroupFetch, GroupLookupError


def usergroup_fetch(client: WebClient) -> GroupFetch:
    """Look a user group's members up with ``client`` (give it a short timeout)."""

    def fetch(group: str) -> frozenset[str]:
        try:
            response = client.usergroups_users_list(usergroup=group)
        except SlackApiError as error:
            raise GroupLookupError(str(error.response.get("error") or "unknown")) from None
        except OSError as error:  # connection refused, reset, timeout (urllib)
            raise GroupLookupError(f"unreachable: {type(error).__name__}") from None
        users = response.get("users")
        return frozenset(str(user) for user in users) if isinstance(users, list) else frozenset()

    return fetch
