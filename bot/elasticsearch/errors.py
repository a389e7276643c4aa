"""Errors from Elasticsearch's inference API.

ElasticsearchError
├── ElasticsearchUnavailableError     connection refused, timeout, 429, 5xx: worth retrying
└── ElasticsearchRequestError         Elasticsearch answered 4xx: retrying won't help
    ├── ElasticsearchAuthError        401 / 403 (bad API key, missing privilege, licence)
    ├── ElasticsearchNotFoundError    404 (no such endpoint)
    ├── ElasticsearchConflictError    409, and 400 resource_already_exists_exception
    └── ProviderRejectedError         400 "Could not complete inference endpoint creation…":
                                      the provider refused Elasticsearch's validation call

Every error carries ``status`` and, when Elasticsearch said so, its ``error_type``, ``reason``
and ``root_causes`` (the ``type: reason`` lines of ``error.root_cause``). None of them ever
holds the API key: messages are built from Elasticsearch's answers, never from the request.
"""

from __future__ import annotations

import re

_PROVIDER_STATUS = re.compile(r"status \[(\d{3})\]")
_PROVIDER_MESSAGE = re.compile(r"Error message: \[(.*)\]\s*$", re.DOTALL)


class ElasticsearchError(Exception):
    """Any failure talking to Elasticsearch; ``message`` is its own text when it gave one."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        reason: str | None = None,
        root_causes: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type
        self.reason = reason
        self.root_causes = root_causes

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"


class ElasticsearchUnavailableError(ElasticsearchError):
    """Elasticsearch could not be reached, or answered 429 or a server error."""


class ElasticsearchRequestError(ElasticsearchError):
    """Elasticsearch refused the request."""


class ElasticsearchAuthError(ElasticsearchRequestError):
    pass


class ElasticsearchNotFoundError(ElasticsearchRequestError):
    pass


class ElasticsearchConflictError(ElasticsearchRequestError):
    """The id is taken (PUT is not an upsert), or DELETE found references."""


class ProviderRejectedError(ElasticsearchRequestError):
    """Elasticsearch called the provider while creating the endpoint and the provider refused.

    ``provider_status`` is the provider's HTTP status when Elasticsearch quoted it (401/403:
    bad credentials, 404: bad model/deployment/URL, 429: quota, 5xx: provider outage) and
    ``provider_message`` the provider's own message (or the cause's text).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        reason: str | None = None,
        root_causes: tuple[str, ...] = (),
        cause: str = "",
    ) -> None:
        super().__init__(
            message, status=status, error_type=error_type, reason=reason, root_causes=root_causes
        )
        found = _PROVIDER_STATUS.search(cause)
        self.provider_status = int(found.group(1)) if found else None
        quoted = _PROVIDER_MESSAGE.search(cause)
        self.provider_message = quoted.group(1) if quoted else cause
