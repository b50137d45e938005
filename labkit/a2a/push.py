"""A2A push notifications, secured: URL allow-list and address checks, signed deliveries, bounded retries.

Every delivery carries a short-lived JWT signed with the agent's own key (``iss`` = agent, ``aud`` = the
webhook URL, ``iat``, ``exp``, ``jti``, ``taskId``; ``kid`` in the header) in ``Authorization``, and the
client's configured token in ``X-A2A-Notification-Token``. The agent publishes its public keys at
``/.well-known/jwks.json``. Deliveries run in the background, so a slow webhook never blocks the agent.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

try:  # a partial install names the extra to add (labkit/_extras.py)
    import a2a  # noqa: F401
except ModuleNotFoundError as missing:
    from .._extras import missing_extra

    raise (missing_extra(missing, "labkit.a2a.push") or missing) from None
from a2a.server.tasks.push_notification_config_store import PushNotificationConfigStore
from a2a.server.tasks.push_notification_sender import PushNotificationEvent, PushNotificationSender
from a2a.utils.proto_utils import to_stream_response
from google.protobuf.json_format import MessageToDict
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from .._files import UnsafeFileError, read_regular
from .._json import loads_bounded
from .._text import safe_text
from ..config import PushConfig
from ..ssrf import guarded_transport, resolution_refused
from ._tasks import task_state

__all__ = ["AgentSigner", "Delivery", "PushPolicy", "SignedPushSender", "load_signing_key"]


class PushPolicy:
    """Decides whether a webhook URL may receive notifications (exact allow-list, then resolved addresses)."""

    def __init__(self, config: PushConfig) -> None:
        self.config = config
        self.allowed = {entry.lower() for entry in config.allowed_hosts}

    async def check(self, url: str) -> str | None:
        """Why ``url`` is refused, or None when it is allowed."""
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return "not a URL"
        if parts.scheme not in ("http", "https") or not host:
            return "only http(s) URLs with a host"
        if parts.username or parts.password:
            return "credentials in the URL"
        shown = f"[{host}]" if ":" in host else host
        if f"{shown}:{port}".lower() not in self.allowed:
            return f"{shown}:{port} is not in push.allowed_hosts"
        return await resolution_refused(host, port, allow_loopback=self.config.allow_loopback,
                                        allow_private=self.config.allow_private_networks)

    async def allows(self, url: str) -> bool:
        """True when ``url`` may receive notifications (the a2a-sdk's ``push_url_validator`` hook)."""
        return await self.check(url) is None


_MAX_KEY_FILE = 65_536  # a PEM or JWK key is a few KiB


def load_signing_key(path: str | os.PathLike[str], *, private: bool = True) -> ECKey:
    """An EC P-256 key from a PEM or JWK (JSON) file, with ``kid`` its RFC 7638 thumbprint.

    Raises ``ValueError`` saying what is wrong with the file (unreadable, not a key, not P-256, not private).
    """
    try:
        # labkit._files: a regular file only (a FIFO never blocks, a device is never read), at most _MAX_KEY_FILE
        data = read_regular(path, _MAX_KEY_FILE, follow=True)
    except UnsafeFileError as exc:
        raise ValueError(f"{safe_text(os.fspath(path), 256)}: {exc.problem}") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the key file ({exc.__class__.__name__})") from None
    if data is None:
        raise ValueError(f"{path}: cannot read the key file (FileNotFoundError)")
    if len(data) > _MAX_KEY_FILE:
        raise ValueError(f"{path}: larger than {_MAX_KEY_FILE} bytes; not a key file")
    try:
        raw: Any = loads_bounded(data) if data.lstrip().startswith(b"{") else data  # never RecursionError
        key = ECKey.import_key(raw, parameters={"alg": "ES256", "use": "sig"})
    except (ValueError, TypeError, KeyError, JoseError) as exc:
        raise ValueError(f"{path}: not an EC key in PEM or JWK form ({exc.__class__.__name__})") from None
    # RFC 7518 §3.4: ES256 is ECDSA over P-256
    if key.as_dict(private=False).get("crv") != "P-256":
        raise ValueError(f"{path}: push deliveries are signed with ES256, which needs a P-256 key")
    if private and not key.is_private:
        raise ValueError(f"{path}: holds a public key; the agent needs the private key to sign")
    key.ensure_kid()
    return key


class AgentSigner:
    """The agent's own signing key (EC P-256, ES256) and its public JWK Set.

    ``previous``: keys no longer used to sign but still published, so deliveries signed before a rotation
    keep verifying for their lifetime (the grace period). Replicas load one ``key`` from the same file.
    """

    def __init__(self, issuer: str, clock: Callable[[], float] = time.time, key: ECKey | None = None,
                 previous: tuple[ECKey, ...] = ()) -> None:
        self.issuer = issuer
        self.clock = clock
        self.key = key or ECKey.generate_key("P-256", parameters={"alg": "ES256", "use": "sig"}, auto_kid=True)
        self.previous = previous

    def jwks(self) -> dict[str, Any]:
        """The public keys, for ``/.well-known/jwks.json`` (the signing key first)."""
        return {"keys": [k.as_dict(private=False) for k in (self.key, *self.previous)]}

    def sign(self, audience: str, task_id: str, lifetime: int) -> str:
        """A short-lived delivery token for one notification."""
        now = int(self.clock())
        claims = {"iss": self.issuer, "aud": audience, "iat": now, "exp": now + lifetime,
                  "jti": secrets.token_urlsafe(16), "taskId": task_id}
        header = {"alg": "ES256", "typ": "JWT", "kid": str(self.key.kid)}
        return jwt.encode(header, claims, self.key, algorithms=["ES256"])


@dataclass
class Delivery:
    """The outcome of one notification (kept for lessons and tests; never holds a token)."""

    task_id: str
    url: str
    status: int | None = None
    attempts: int = 0
    error: str | None = None
    state: str | None = None
    finished: float | None = None


class SignedPushSender(PushNotificationSender):
    """Delivers each task event to its configured webhooks, signed, in the background, with bounded retries.

    One webhook receives one task's events in the order they happened: each delivery starts once the previous one
    for the same task and URL has finished (delivered, refused or out of retries), so a receiver never sees a task
    go back from completed to working. Different tasks and webhooks are delivered concurrently. An attempt takes at
    most ``push.timeout`` seconds, all of it, and the webhook's answer body is never read, so no webhook holds the
    queue behind it (nor the agent's memory) however slowly it answers.
    """

    def __init__(self, store: PushNotificationConfigStore, policy: PushPolicy, signer: AgentSigner, *,
                 config: PushConfig, backoff: float = 0.2, keep: int = 1000) -> None:
        self.store = store
        self.policy = policy
        self.signer = signer
        self.config = config
        self.backoff = backoff
        self.keep = keep
        self.deliveries: list[Delivery] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._last: dict[tuple[str, str], asyncio.Task[None]] = {}  # the newest delivery per (task, webhook)
        self._client: httpx.AsyncClient | None = None

    async def send_notification(self, task_id: str, event: PushNotificationEvent) -> None:
        """Schedule delivery to every webhook of ``task_id``; returns at once."""
        configs = await self.store.get_info_for_dispatch(task_id)
        body = MessageToDict(to_stream_response(event))
        for config in configs:
            key = (task_id, config.url)
            task = asyncio.create_task(self._deliver(task_id, config.url, config.token, body, self._last.get(key)))
            self._tasks.add(task)
            self._last[key] = task
            task.add_done_callback(functools.partial(self._finished, key))

    def _finished(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._last.get(key) is task:  # nothing queued behind it
            del self._last[key]

    async def _deliver(self, task_id: str, url: str, token: str, body: dict[str, Any],
                       after: asyncio.Task[None] | None = None) -> None:
        if after is not None:
            await asyncio.wait({after})  # the event before this one, delivered first (never raises)
        delivery = Delivery(task_id=task_id, url=url, state=task_state(body)[1])
        self._record(delivery)
        refused = await self.policy.check(url)  # re-checked at send time: DNS may have changed
        if refused:
            delivery.error = f"refused: {refused}"
            delivery.finished = time.time()
            return
        if self._client is None or self._client.is_closed:
            # DNS rebinding: each connection is judged again on the address it connects to (labkit.ssrf)
            transport = guarded_transport(allow_loopback=self.config.allow_loopback,
                                          allow_private=self.config.allow_private_networks)
            # httpx's per-phase timeout is a backstop only: each attempt's whole deadline, below, comes first
            self._client = httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False,
                                             timeout=2 * self.config.timeout)
        for attempt in range(self.config.max_retries + 1):
            delivery.attempts = attempt + 1
            headers = {"Authorization": f"Bearer {self.signer.sign(url, task_id, self.config.token_lifetime)}"}
            if token:
                headers["X-A2A-Notification-Token"] = token
            try:
                # The whole attempt within push.timeout, and the answer's body never read: a webhook that trickles
                # its headers or body holds neither the queue behind this delivery nor the agent's memory.
                async with asyncio.timeout(self.config.timeout), \
                        self._client.stream("POST", url, json=body, headers=headers) as response:
                    delivery.status = response.status_code
                if response.status_code < 500 and response.status_code != 429:
                    break  # delivered, or refused for good (4xx): no retry
            except (httpx.HTTPError, TimeoutError) as exc:
                delivery.error = exc.__class__.__name__
            if attempt < self.config.max_retries:
                await asyncio.sleep(self.backoff * (2**attempt))
        delivery.finished = time.time()

    def _record(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        del self.deliveries[: max(0, len(self.deliveries) - self.keep)]

    async def aclose(self) -> None:
        """Cancel what is still pending and close the HTTP client."""
        for task in list(self._tasks):
            task.cancel()
        if self._client is not None:
            await self._client.aclose()

