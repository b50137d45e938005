"""The one place the library touches the network (validators, token exchange): bounded reads over httpx."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from .errors import AuthError, Reason

__all__ = ["HttpHolder", "Response", "bounded_request"]


@dataclass(frozen=True)
class Response:
    """A response read in full, within the size cap."""

    status: int
    headers: httpx.Headers
    body: bytes


class HttpHolder:
    """An ``httpx.AsyncClient``: the one given, or one of our own per event loop (clients are loop-bound)."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._given = client
        self._own: dict[int, httpx.AsyncClient] = {}

    def client(self) -> httpx.AsyncClient:
        """The client to use in the running event loop."""
        if self._given is not None:
            return self._given
        loop_id = id(asyncio.get_running_loop())
        client = self._own.get(loop_id)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(follow_redirects=False, trust_env=False)
            self._own[loop_id] = client
        return client

    async def aclose(self) -> None:
        """Close our own client of the running loop (a given client belongs to its owner)."""
        client = self._own.pop(id(asyncio.get_running_loop()), None)
        if client is not None:
            await client.aclose()


async def bounded_request(
    holder: HttpHolder,
    method: str,
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    what: str,
    error: Reason,
    **kwargs: Any,
) -> Response:
    """Send one request and read at most ``max_bytes``; raises ``AuthError`` (TIMEOUT, SIZE or ``error``)."""
    try:
        async with asyncio.timeout(timeout):
            async with holder.client().stream(method, url, timeout=timeout, **kwargs) as response:
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                    raise AuthError(Reason.SIZE, f"{what} response of {declared} bytes exceeds {max_bytes}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise AuthError(Reason.SIZE, f"{what} response exceeds {max_bytes} bytes")
                return Response(response.status_code, response.headers, bytes(body))
    except AuthError:
        raise
    except (TimeoutError, httpx.TimeoutException):
        raise AuthError(Reason.TIMEOUT, f"{what} did not answer within {timeout:g}s") from None
    except (httpx.HTTPError, OSError) as exc:
        raise AuthError(error, f"{what} unreachable: {exc.__class__.__name__}") from None

