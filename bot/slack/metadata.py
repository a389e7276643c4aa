"""Context carried through Slack: private_metadata and button values, as typed JSON."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.domain.enums import Provider

M = TypeVar("M", bound=BaseModel)


class RequestFormMetadata(BaseModel):
    """The form's provider and what Kibana said it can take, read once when it opened."""

    model_config = ConfigDict(frozen=True)

    provider: Provider
    unavailable: dict[Provider, str] = {}
    deprecated: list[str] = []


class RequestButton(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_id: int


class RejectMetadata(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_id: int


def encode(value: BaseModel) -> str:
    text = value.model_dump_json()
    if len(text) > 2000:  # button values hold at most 2000 characters, metadata 3000
        raise ValueError("metadata too long")
    return text


def decode(model: type[M], text: str | None) -> M | None:
    """Read metadata back; None when it is missing or not ours."""
    if not text:
        return None
    try:
        return model.model_validate_json(text)
    except ValidationError:
        return None
