"""The Kibana-connector back-end: `POST /api/actions/connector/{id}` in the request's space,
tested through `_execute` with the type's own test."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.domain.changes import merge_config
from bot.domain.connector_types import read_test_data, test_params
from bot.domain.hints import explain_failure
from bot.domain.providers.spec import CONNECTOR, BackendKey, ConnectorPayload
from bot.domain.resources import Removal, Resource, Target, TestRun
from bot.domain.streaming_check import read_second_check, second_check_params
from bot.kibana.client import KibanaClient
from bot.kibana.errors import (
    KibanaConflictError,
    KibanaError,
    KibanaNotFoundError,
    KibanaUnavailableError,
)
from bot.kibana.models import Connector, CreateConnector, UpdateConnector
from bot.services import drafts
from bot.services.backends.base import BackendError, BackendUnavailableError

log = logging.getLogger(__name__)
SECOND_CHECK_HINT = (
    "AI Assistant would fail the same way: make sure the endpoint answers OpenAI chat "
    "completions (the reply in choices[0].message.content) to Kibana's own requests."
)


def resource_of(connector: Connector) -> Resource:
    """The bot's view of a Kibana connector."""
    config = connector.config or {}
    provider = config.get("apiProvider") or config.get("provider")
    provider_config = config.get("providerConfig")
    model = config.get("defaultModel") or (
        provider_config.get("model_id") if isinstance(provider_config, Mapping) else None
    )
    return Resource(
        backend=CONNECTOR,
        id=connector.id,
        name=connector.name,
        type_id=connector.connector_type_id,
        provider=str(provider) if provider else None,
        model=str(model) if model else None,
        preconfigured=connector.is_preconfigured,
        type_deprecated=bool(connector.is_connector_type_deprecated),
        config=config,
    )


def _error(error: KibanaError, type_id: str | None, *texts: str | None) -> BackendError:
    kind = BackendUnavailableError if isinstance(error, KibanaUnavailableError) else BackendError
    hint = explain_failure(type_id, error.message, *texts)
    return kind(error.message, status=error.status, hint=hint)


class ConnectorBackend:
    """Kibana connectors, one space at a time, through the bot's Kibana client."""

    key: BackendKey = CONNECTOR

    def __init__(self, kibana: KibanaClient) -> None:
        self._kibana = kibana

    def payload(
        self, request: drafts.StoredRequest, secrets: Mapping[str, str]
    ) -> ConnectorPayload:
        """The connector body of a stored request, built from its typed draft."""
        return drafts.connector_payload(request, secrets)

    def create(self, target: Target, payload: ConnectorPayload) -> Resource:
        """Create the connector under its stored id; on 409 (a retry after a crash) adopt the
        one there only if it has the same type and name."""
        body = CreateConnector(
            name=target.name,
            connector_type_id=payload.type_id,
            config=payload.config,
            secrets=dict(payload.secrets),
        )
        try:
            return resource_of(
                self._kibana.create_connector(target.space_id, target.resource_id, body)
            )
        except KibanaConflictError:
            pass
        except KibanaError as error:
            raise _error(error, payload.type_id) from None
        try:
            existing = resource_of(self._kibana.get_connector(target.space_id, target.resource_id))
        except KibanaError as error:
            raise _error(error, payload.type_id) from None
        if existing.type_id != payload.type_id or existing.name != target.name:
            message = (
                f"Connector id {target.resource_id} is already used by “{existing.name}” "
                f"({existing.type_id}) in space {target.space_id}."
            )
            raise BackendError(message, status=409, hint=explain_failure(payload.type_id, message))
        log.info("connector %s already existed", target.resource_id)
        return existing

    def get(self, target: Target) -> Resource | None:
        """The connector under the target's id, or None when there is none."""
        try:
            return resource_of(self._kibana.get_connector(target.space_id, target.resource_id))
        except KibanaNotFoundError:
            return None
        except KibanaError as error:
            raise _error(error, target.type_id) from None

    def test(self, target: Target) -> TestRun:
        """Run the type's test through `_execute`; a 200 with status error is a failed test."""
        params = test_params(target.type_id, target.config)
        try:
            result = self._kibana.execute_connector(target.space_id, target.resource_id, params)
        except KibanaError as error:
            raise _error(error, target.type_id) from None
        if result.status == "ok":
            default_model: Any = target.config.get("defaultModel")
            reading = read_test_data(target.type_id, result.data, default_model=default_model)
            return self._second_check(target, TestRun(ok=True, reading=reading))
        return TestRun(
            ok=False,
            message=result.message,
            service_message=result.service_message,
            hint=explain_failure(target.type_id, result.message, result.service_message),
        )

    def _second_check(self, target: Target, passed: TestRun) -> TestRun:
        """After a passing test, the call AI features make (invokeAI for `.gen-ai`); when it
        fails the test has failed, with its message and hint."""
        params = second_check_params(target.type_id, target.config)
        if params is None:
            return passed
        try:
            result = self._kibana.execute_connector(target.space_id, target.resource_id, params)
        except KibanaError as error:
            raise _error(error, target.type_id) from None
        check = read_second_check(
            status=result.status,
            data=result.data,
            message=result.message,
            service_message=result.service_message,
        )
        if check.ok:
            return passed.model_copy(update={"second_check": check})
        return TestRun(
            ok=False,
            reading=passed.reading,
            message=f"The test passed, but {check.sub_action} (the call AI Assistant makes) "
            f"failed: {check.message}",
            hint=check.hint or SECOND_CHECK_HINT,
            second_check=check,
        )

    def list(self, space_id: str) -> list[Resource]:
        """The connectors of a space, preconfigured ones included."""
        try:
            return [resource_of(c) for c in self._kibana.list_connectors(space_id)]
        except KibanaError as error:
            raise _error(error, None) from None

    def update(self, target: Target, payload: ConnectorPayload) -> Resource:
        """Change the connector in place: Kibana's config as it is now with the payload's keys
        over it (a ``None`` value removes a key), the target's name and the full secrets (Kibana
        validates them again on every update). Its type cannot change."""
        try:
            current = self._kibana.get_connector(target.space_id, target.resource_id)
        except KibanaError as error:
            raise _error(error, payload.type_id) from None
        if current.is_preconfigured:
            raise BackendError(
                f"Connector {target.resource_id} is preconfigured in kibana.yml: Kibana does "
                "not let the API change it.",
                status=400,
                hint="Change it in kibana.yml (xpack.actions.preconfigured) and restart Kibana.",
            )
        if current.connector_type_id != payload.type_id:
            raise BackendError(
                f"Connector {target.resource_id} is a {current.connector_type_id} connector; "
                f"Kibana cannot change its type to {payload.type_id}.",
                status=400,
                hint="Retire it and request a new connector of the other provider.",
            )
        body = UpdateConnector(
            name=target.name,
            config=merge_config(current.config or {}, payload.config),
            secrets=dict(payload.secrets),
        )
        try:
            updated = self._kibana.update_connector(target.space_id, target.resource_id, body)
        except KibanaError as error:
            raise _error(error, payload.type_id) from None
        return resource_of(updated)

    def delete(self, target: Target, *, force: bool = False) -> Removal:
        """Delete the connector; one already gone is ``existed=False``. Kibana has no
        references that block a delete: ``force`` changes nothing here."""
        del force
        try:
            self._kibana.delete_connector(target.space_id, target.resource_id)
        except KibanaNotFoundError:
            return Removal(existed=False)
        except KibanaError as error:
            raise _error(error, target.type_id) from None
        return Removal(existed=True)
