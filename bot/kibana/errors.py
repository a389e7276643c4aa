"""Errors from Kibana's connectors API.

KibanaError
├── KibanaUnavailableError     connection refused, timeout, 5xx, 429: worth retrying
└── KibanaRequestError         Kibana answered 4xx: retrying won't help
    ├── KibanaAuthError        401 / 403 (bad API key, missing privilege, licence)
    ├── KibanaNotFoundError    404
    └── KibanaConflictError    409 (the id already exists in the space)
"""

from __future__ import annotations


class KibanaError(Exception):
    """Any failure talking to Kibana; ``message`` is Kibana's own text when it gave one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class KibanaUnavailableError(KibanaError):
    """Kibana could not be reached or answered with a server error."""


class KibanaRequestError(KibanaError):
    """Kibana refused the request."""


class KibanaAuthError(KibanaRequestError):
    pass


class KibanaNotFoundError(KibanaRequestError):
    pass


class KibanaConflictError(KibanaRequestError):
    pass
