"""The provider's authlib request (RFC 6749 §3.1, §3.2: no repeated parameters) and the request being handled."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError

__all__ = ["LabRequest", "current_request", "use_request"]

_current: ContextVar[LabRequest | None] = ContextVar("labkit_provider_request", default=None)


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, data: dict[str, str], datalist: dict[str, list[str]]) -> None:
        self._data = data
        self._datalist = datalist

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class LabRequest(OAuth2Request):  # type: ignore[misc]
    """An authlib request built from an already-read Starlette request (query + form)."""

    def __init__(
        self, method: str, uri: str, headers: dict[str, str], query: list[tuple[str, str]], form: list[tuple[str, str]]
    ) -> None:
        super().__init__(method, uri, headers=headers)
        datalist: dict[str, list[str]] = {}
        for key, value in [*query, *form]:
            datalist.setdefault(key, []).append(value)
        # RFC 6749 §3.1, §3.2: parameters MUST NOT be included more than once (RFC 8707 §2: resource may).
        repeated = sorted(k for k, v in datalist.items() if len(v) > 1 and k != "resource")
        if repeated:
            raise InvalidRequestError("a parameter is repeated")
        self._args = dict(query)
        self._form = dict(form)
        self.payload = _Payload({k: v[0] for k, v in datalist.items()}, datalist)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form



def current_request() -> LabRequest | None:
    """The request an authlib call is handling (None outside ``use_request``)."""
    return _current.get()


@contextmanager
def use_request(request: LabRequest) -> Iterator[LabRequest]:
    """Make ``request`` the current request for the duration of a ``with`` block."""
    reset = _current.set(request)
    try:
        yield request
    finally:
        _current.reset(reset)
