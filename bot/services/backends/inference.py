"""The Elasticsearch inference back-end: `PUT _inference/chat_completion/{id}` (cluster-wide),
tested through `POST _inference/chat_completion/{id}/_stream` under an overall deadline."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.domain.inference_hints import explain_inference_failure
from bot.domain.providers import provider_spec
from bot.domain.providers.spec import INFERENCE, BackendKey, InferencePayload
from bot.domain.resources import Removal, Resource, Target, TestRun
from bot.domain.testing import TestReading, preview
from bot.elasticsearch.client import ElasticsearchClient
from bot.elasticsearch.errors import (
    ElasticsearchConflictError,
    ElasticsearchError,
    ElasticsearchNotFoundError,
    ElasticsearchUnavailableError,
    ProviderRejectedError,
)
from bot.elasticsearch.models import InferenceEndpoint, PutEndpoint, UpdateEndpoint
from bot.services import drafts
from bot.services.backends.base import BackendError, BackendUnavailableError

log = logging.getLogger(__name__)

TASK = "chat_completion"
# The overall budget of the streamed test: connection, first token and the whole reply.
STREAM_DEADLINE_SECONDS = 60.0
TEST_MESSAGE = "Reply with one short sentence: which model are you?"
# Keys of service_settings Elasticsearch fills in itself and echoes back.
_ECHOED = frozenset({"rate_limit"})


def resource_of(endpoint: InferenceEndpoint) -> Resource:
    """The bot's view of an inference endpoint."""
    settings = dict(endpoint.service_settings)
    model = settings.get("model_id") or settings.get("model") or settings.get("deployment_id")
    display = endpoint.metadata.display if endpoint.metadata else None
    return Resource(
        backend=INFERENCE,
        id=endpoint.inference_id,
        name=(display.name if display and display.name else endpoint.inference_id),
        type_id=endpoint.service,
        provider=endpoint.service,
        model=str(model) if model else None,
        preconfigured=endpoint.inference_id.startswith("."),
        config=settings,
    )


def _same(sent: Any, stored: Any) -> bool:
    if isinstance(sent, str) and isinstance(stored, str):
        return sent.casefold() == stored.casefold()  # Bedrock echoes its provider upper-case
    return bool(sent == stored)


def differences(payload: InferencePayload, existing: InferenceEndpoint) -> list[str]:
    """What an existing endpoint has other than ``payload`` (secrets are never returned)."""
    found: list[str] = []
    if existing.service != payload.service:
        found.append(f"service {existing.service} (not {payload.service})")
    for key, value in payload.service_settings.items():
        if key in payload.secret_settings or key in _ECHOED:
            continue
        stored = existing.service_settings.get(key)
        if not _same(value, stored):
            found.append(f"{key} {stored!r} (not {value!r})")
    return found


def _error(error: ElasticsearchError, service: str | None = None) -> BackendError:
    if isinstance(error, ElasticsearchUnavailableError):
        return BackendUnavailableError(error.message, status=error.status)
    if isinstance(error, ProviderRejectedError):
        message = f"The provider refused the endpoint: {error.provider_message or error.message}"
        hint = explain_inference_failure(
            service, error.provider_message, message, provider_status=error.provider_status
        )
        return BackendError(message, status=error.status, hint=hint)
    texts = (error.message, *error.root_causes)
    return BackendError(
        error.message, status=error.status, hint=explain_inference_failure(service, *texts)
    )


class InferenceBackend:
    """Elasticsearch `chat_completion` inference endpoints, through the bot's ES client."""

    key: BackendKey = INFERENCE

    def __init__(
        self, elasticsearch: ElasticsearchClient, *, deadline: float = STREAM_DEADLINE_SECONDS
    ) -> None:
        self._es = elasticsearch
        self._deadline = deadline

    def payload(
        self, request: drafts.StoredRequest, secrets: Mapping[str, str]
    ) -> InferencePayload:
        """The endpoint body of a stored request, built from its typed draft."""
        try:
            draft = drafts.restore_draft(request, secrets)
            return provider_spec(draft.provider).inference_payload(draft)
        except ValueError as error:
            raise BackendError(str(error)) from None

    def create(self, target: Target, payload: InferencePayload) -> Resource:
        """Create the endpoint under its stored id; when a retry finds it there (already
        exists), adopt it only if service and non-secret settings match."""
        body = PutEndpoint(
            service=payload.service,
            service_settings=dict(payload.service_settings),
            task_settings=dict(payload.task_settings) or None,
        )
        try:
            return resource_of(self._es.put_endpoint(TASK, target.resource_id, body))
        except ElasticsearchConflictError:
            pass
        except ElasticsearchError as error:
            raise _error(error, payload.service) from None
        try:
            existing = self._es.get_endpoint(TASK, target.resource_id)
        except ElasticsearchError as error:
            raise _error(error) from None
        different = differences(payload, existing)
        if different:
            message = (
                f"Inference endpoint {target.resource_id} already exists with other settings: "
                + "; ".join(different)
                + ". It was left as it is."
            )
            raise BackendError(
                message,
                status=409,
                hint="Someone created an endpoint with this id by hand, or the request was "
                "changed: delete that endpoint if it is not needed, or ask for a new request.",
            )
        log.info("inference endpoint %s already existed", target.resource_id)
        return resource_of(existing)

    def get(self, target: Target) -> Resource | None:
        """The endpoint under the target's id, or None when there is none."""
        try:
            return resource_of(self._es.get_endpoint(TASK, target.resource_id))
        except ElasticsearchNotFoundError:
            return None
        except ElasticsearchError as error:
            raise _error(error) from None

    def test(self, target: Target) -> TestRun:
        """Chat once through `_stream`; an error before or inside the stream is a failed test."""
        try:
            result = self._es.stream_test(target.resource_id, TEST_MESSAGE, deadline=self._deadline)
        except ElasticsearchError as error:
            raise _error(error) from None
        if result.ok:
            usage = result.usage
            first = result.time_to_first_token
            return TestRun(
                ok=True,
                reading=TestReading(
                    model=result.model,
                    reply=preview(result.reply),
                    prompt_tokens=usage.prompt if usage else None,
                    completion_tokens=usage.completion if usage else None,
                    total_tokens=usage.total if usage else None,
                    first_token_ms=None if first is None else round(first * 1000),
                ),
            )
        message = result.error or "The streamed test failed"
        return TestRun(
            ok=False,
            message=message,
            service_message=result.error_code,
            hint=explain_inference_failure(
                None, message, result.error_code, provider_status=result.status
            ),
        )

    def list(self, space_id: str) -> list[Resource]:
        """The cluster's chat_completion endpoints (every space sees them: ``space_id`` is
        not used), Elastic's preconfigured ones included."""
        del space_id
        try:
            return [resource_of(e) for e in self._es.list_endpoints(TASK)]
        except ElasticsearchError as error:
            raise _error(error) from None

    def update(self, target: Target, payload: InferencePayload) -> Resource:
        """Change the endpoint in place through `_update`: its secrets (the complete set) and
        task settings. Elasticsearch keeps the service and every other service setting as
        they were, so a change of model, URL or service is refused here with what differs."""
        try:
            existing = self._es.get_endpoint(TASK, target.resource_id)
        except ElasticsearchError as error:
            raise _error(error, payload.service) from None
        if existing.preconfigured:
            raise BackendError(
                f"Inference endpoint {target.resource_id} is Elastic's own: it cannot be changed.",
                status=400,
            )
        different = differences(payload, existing)
        if different:
            raise BackendError(
                f"Elasticsearch cannot change an inference endpoint's service or model settings "
                f"in place ({'; '.join(different)}).",
                status=400,
                hint="Only the key and the task settings can change: retire this endpoint and "
                "request a new one with the other settings.",
            )
        secrets = {
            key: value
            for key, value in payload.service_settings.items()
            if key in payload.secret_settings
        }
        body = UpdateEndpoint(
            service_settings=secrets or None, task_settings=dict(payload.task_settings) or None
        )
        if body.service_settings is None and body.task_settings is None:
            return resource_of(existing)  # nothing Elasticsearch could change
        try:
            return resource_of(self._es.update_endpoint(TASK, target.resource_id, body))
        except ElasticsearchError as error:
            raise _error(error, payload.service) from None

    def delete(self, target: Target, *, force: bool = False) -> Removal:
        """Delete the endpoint; one already gone is ``existed=False``. Elasticsearch refuses
        (409) while pipelines or index mappings use it, unless ``force``."""
        try:
            self._es.delete_endpoint(TASK, target.resource_id, force=force)
        except ElasticsearchNotFoundError:
            return Removal(existed=False)
        except ElasticsearchConflictError as error:
            raise BackendError(
                error.message,
                status=error.status,
                hint="Remove it from those pipelines and index mappings first, or retire it "
                "anyway (they will fail until they use another endpoint).",
            ) from None
        except ElasticsearchError as error:
            raise _error(error) from None
        return Removal(existed=True)
