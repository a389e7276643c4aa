"""Identifiers the bot chooses: request references and Kibana connector ids."""

from __future__ import annotations

import re
import secrets
import unicodedata

# Crockford-style alphabet: no I, L, O, U, so a reference read aloud is unambiguous.
_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
CONNECTOR_ID = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
CONNECTOR_ID_MAX = 36
REFERENCE = re.compile(r"^REQ-[0-9A-Z]{6}$")


def new_reference() -> str:
    """Return a short request reference people can quote, like REQ-7K3M9Q."""
    return "REQ-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))


def normalise_reference(text: str) -> str | None:
    """Return the canonical reference for what a person typed, or None."""
    candidate = text.strip().upper()
    if not candidate.startswith("REQ-"):
        candidate = "REQ-" + candidate
    return candidate if REFERENCE.match(candidate) else None


def slugify(text: str, *, max_length: int) -> str:
    """Lowercase ASCII slug with single hyphens, at most ``max_length`` characters."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-")


def new_connector_id(name: str) -> str:
    """Return a Kibana-safe connector id derived from the name, unique by a random suffix."""
    suffix = "".join(secrets.choice(_ID_ALPHABET) for _ in range(6))
    slug = slugify(name, max_length=CONNECTOR_ID_MAX - len("llm--") - len(suffix))
    connector_id = f"llm-{slug}-{suffix}" if slug else f"llm-{suffix}"
    return connector_id
