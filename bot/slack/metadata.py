"""Context carried through Slack: private_metadata and button values, as typed JSON."""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.domain.backends import Backend, BackendChoice
from bot.domain.enums import Provider
from bot.domain.refs import REFERENCE

M = TypeVar("M", bound=BaseModel)
# A request's primary key: a SQL INTEGER. A button value holding 2**63 is not ours (and would
# overflow the database driver), so it reads as a stale button, not as an error.
RequestId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class RequestFormMetadata(BaseModel):
    """The form's provider and what Kibana said it can take, read once when it opened."""

    model_config = ConfigDict(frozen=True)

    provider: Provider
    unavailable: dict[Provider, str] = {}
    deprecated: list[str] = []
    # The stack's back-end and why (set when Elasticsearch is configured), for redraws.
    backend: Backend | None = None
    backend_reason: str | None = None
    max_lifetime_days: int | None = None  # the policy's maximum when the form opened
    # The target (deployment) the form is for; None: the default, as without a policy file.
    target: str | None = None

    def backend_choice(self) -> BackendChoice | None:
        if self.backend is None:
            return None
        return BackendChoice(self.backend, self.backend_reason or "")


class RequestButton(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    request_id: RequestId


class CancelButton(BaseModel):
    """The Home tab's Cancel button: the request's reference, as `cancel` takes it."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    reference: Annotated[str, Field(pattern=REFERENCE.pattern)]


class RejectMetadata(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    request_id: RequestId


class ChangeFormMetadata(BaseModel):
    """What a rotate or change modal is about: the inventory entry, and its provider and
    back-end when the modal opened (a submission is checked against the entry again)."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    managed_id: RequestId
    kind: Literal["rotate", "change"]
    provider: Provider
    backend: Backend


class ManagedButton(BaseModel):
    """A button about one inventory entry (Rotate, Change, Retire, Extend)."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    managed_id: RequestId


class RetireMetadata(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    managed_id: RequestId


def encode(value: BaseModel) -> str:
    text = value.model_dump_json()
    if len(text) > 2000:  # button values hold at most 2000 characters, metadata 3000
        raise ValueError("metadata too long")
    return text


def decode(model: type[M], text: str | None) -> M | None:
    """Read metadata back; None when it is missing or not ours."""
    if not text or not isinstance(text, str) or len(text) > 3000:
        return None
    try:
        return model.model_validate_json(text)
    except ValidationError:
        return None
