"""The approval flow: Approve and Reject clicks, and the reject-reason modal."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from bot.deps import Deps
from bot.domain.fields import reason_problem
from bot.domain.providers.spec import INFERENCE
from bot.errors import BotError
from bot.services import requests
from bot.services.ballot import BreakGlassNeededError
from bot.slack import forms, replies
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.metadata import RejectMetadata, RequestButton, decode
from bot.slack.views.break_glass import build_break_glass_view
from bot.slack.views.common import to_dicts
from bot.slack.views.devtools import build_devtools_message
from bot.slack.views.preconfigured import build_yaml_message
from bot.slack.views.request_modal import build_reject_view

log = logging.getLogger(__name__)
STALE_BUTTON = "This button is from an old message; the request can't be found."


def register(app: App, deps: Deps) -> None:
    """Wire the approval flow's listeners."""

    @app.action(ActionId.APPROVE.value)
    def handle_approve_click(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        button = decode(RequestButton, action.get("value"))
        if button is None:
            ack()
            replies.tell(deps, body, respond, STALE_BUTTON)
            return
        try:
            # Written before the ack: what Slack was told happened cannot be lost.
            requests.approve_request(
                deps, request_id=button.request_id, actor=str(body["user"]["id"])
            )
        except BreakGlassNeededError as needed:
            ack()
            _open(deps, client, respond, body, build_break_glass_view(needed.snapshot), "Approve")
            return
        except BotError as error:
            ack()
            replies.tell(deps, body, respond, error.user_message)
            return
        ack()

    @app.action(ActionId.REJECT.value)
    def handle_reject_click(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        button = decode(RequestButton, action.get("value"))
        if button is None:
            replies.tell(deps, body, respond, STALE_BUTTON)
            return
        try:
            snapshot = requests.check_decider(
                deps, request_id=button.request_id, actor=str(body["user"]["id"])
            )
        except BotError as error:
            replies.tell(deps, body, respond, error.user_message)
            return
        _open(deps, client, respond, body, build_reject_view(snapshot), "Reject")

    @app.action(ActionId.DELIVER_YAML.value)
    def handle_deliver_yaml_click(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        button = decode(RequestButton, action.get("value"))
        if button is None:
            ack()
            replies.tell(deps, body, respond, STALE_BUTTON)
            return
        actor = str(body["user"]["id"])
        # An inference-endpoint request is delivered as its Dev Tools request instead.
        what = "kibana.yml entry"
        try:
            if requests.delivery_backend(deps, request_id=button.request_id) == INFERENCE:
                what = "Dev Tools request"
                snapshot, delivery = requests.deliver_as_devtools(
                    deps, request_id=button.request_id, actor=actor
                )
                text, blocks = build_devtools_message(snapshot, delivery)
            else:
                snapshot, secret_names = requests.deliver_as_yaml(
                    deps, request_id=button.request_id, actor=actor
                )
                text, blocks = build_yaml_message(snapshot, secret_names)
        except BotError as error:
            ack()
            replies.tell(deps, body, respond, error.user_message)
            return
        ack()
        try:
            client.chat_postMessage(channel=actor, text=text, blocks=to_dicts(blocks))
        except SlackApiError as error:
            replies.tell(
                deps,
                body,
                respond,
                f"The {what} could not be sent to you "
                f"({error.response.get('error')}); the request is marked delivered.",
            )

    @app.view(CallbackId.REJECT_REASON.value)
    def handle_reject_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        metadata = decode(RejectMetadata, view.get("private_metadata"))
        reason = forms.read_reject_reason(view)
        if metadata is None:
            ack(response_action="errors", errors={BlockId.REJECT_REASON.value: STALE_BUTTON})
            return
        if not reason:
            ack(
                response_action="errors",
                errors={BlockId.REJECT_REASON.value: "Give a reason: the requester sees it."},
            )
            return
        if problem := reason_problem(reason):
            ack(response_action="errors", errors={BlockId.REJECT_REASON.value: problem})
            return
        try:
            requests.reject_request(
                deps, request_id=metadata.request_id, actor=str(body["user"]["id"]), reason=reason
            )
        except BotError as error:
            ack(response_action="errors", errors={BlockId.REJECT_REASON.value: error.user_message})
            return
        ack()

    @app.view(CallbackId.BREAK_GLASS_REASON.value)
    def handle_break_glass_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        metadata = decode(RejectMetadata, view.get("private_metadata"))
        reason = forms.read_break_glass_reason(view)
        block = BlockId.BREAK_GLASS_REASON.value
        if metadata is None:
            ack(response_action="errors", errors={block: STALE_BUTTON})
            return
        if not reason:
            ack(
                response_action="errors",
                errors={block: "Give a reason: the other approvers are told it at once."},
            )
            return
        if problem := reason_problem(reason):
            ack(response_action="errors", errors={block: problem})
            return
        try:
            requests.break_glass_approve(
                deps, request_id=metadata.request_id, actor=str(body["user"]["id"]), reason=reason
            )
        except BotError as error:
            ack(response_action="errors", errors={block: error.user_message})
            return
        ack()


def _open(
    deps: Deps,
    client: WebClient,
    respond: Respond,
    body: dict[str, Any],
    view: View,
    button: str,
) -> None:
    """Open a reason form on the click's trigger; say so privately when Slack won't."""
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as error:
        replies.tell(
            deps,
            body,
            respond,
            f"Slack didn't open the reason form ({error.response.get('error')}); "
            f"click {button} again.",
        )
