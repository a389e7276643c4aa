"""Register every listener, feature by feature."""

from __future__ import annotations

from slack_bolt import App

from bot.deps import Deps
from bot.slack.listeners import approval, changes, fallback, home, request, retire


def register_listeners(app: App, deps: Deps, *, slash_command: str) -> None:
    request.register(app, deps, slash_command=slash_command)
    approval.register(app, deps)
    home.register(app, deps)
    changes.register(app, deps)
    retire.register(app, deps)
    fallback.register(app)  # last: it answers only what nothing above matched
