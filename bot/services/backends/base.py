"""The one protocol every provisioning back-end implements, and the errors it raises.

BackendError                    the back-end refused or failed; ``hint`` says the likely fix
└── BackendUnavailableError     it could not be reached (connection, timeout, 5xx, 429): retry
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from bot.domain.providers.spec import BackendKey
    from bot.domain.resources import Removal, Resource, Target, TestRun
    from bot.services.drafts import StoredRequest


class BackendError(Exception):
    """A back-end call failed; ``message`` is the remote side's own text when it gave one."""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.hint = hint


class BackendUnavailableError(BackendError):
    """The back-end could not be reached, or answered with a server error: worth retrying."""


PayloadT = TypeVar("PayloadT")


class ProvisioningBackend(Protocol[PayloadT]):
    """Creates, finds, tests, lists and deletes what a request provisions.

    ``payload`` builds the create body from a stored request and its unsealed secrets;
    ``create`` under the request's stored id returns what exists when a retry finds it there
    with the same settings, and raises `BackendError` when the id is taken by something else.
    ``update`` changes what exists under the target's id in place to ``payload`` (built like a
    create payload from the changed draft, with the new secrets); ``delete`` removes it, an
    already missing one being ``Removal(existed=False)``; ``force`` deletes an inference
    endpoint that pipelines or index mappings still use (Kibana connectors ignore it).
    """

    key: BackendKey

    def payload(self, request: StoredRequest, secrets: Mapping[str, str]) -> PayloadT: ...

    def create(self, target: Target, payload: PayloadT) -> Resource: ...

    def get(self, target: Target) -> Resource | None: ...

    def test(self, target: Target) -> TestRun: ...

    def list(self, space_id: str) -> list[Resource]: ...

    def update(self, target: Target, payload: PayloadT) -> Resource: ...

    def delete(self, target: Target, *, force: bool = False) -> Removal: ...
