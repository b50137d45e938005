"""UNSAFE: the attacker's small tools for lesson 10, each a primitive, none an exploit.

The learner builds every attack from joserfc and these: read a token's claims as an attacker does (no
verification), fetch a published JWK Set, sign HS256 with bytes joserfc refuses as a key on purpose (a public key
in PEM, an empty file), and send a path exactly as written (httpx resolves ``..`` before sending).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
from joserfc import jws

__all__ = ["claims_of", "fetch_jwks", "hs256_token", "raw_get", "with_claims"]

_LIMIT = 65_536


def claims_of(token: str) -> dict[str, Any]:
    """The claims of a compact JWS read WITHOUT verifying it (joserfc's ``extract_compact``), as anyone holding a
    token can. Raises ``ValueError`` when ``token`` is not a compact JWS with a JSON object payload."""
    try:
        claims = json.loads(jws.extract_compact(token.encode()).payload)
    except Exception as exc:  # joserfc's DecodeError, a bad base64 or JSON: one clear error
        raise ValueError(f"not a compact JWS with JSON claims ({type(exc).__name__})") from None
    if not isinstance(claims, dict):
        raise ValueError("the token's payload is not a JSON object")
    return claims


def fetch_jwks(url: str) -> dict[str, Any]:
    """The JWK Set published at ``url`` (public keys: anyone may fetch them). Raises ``ValueError`` when the
    answer is not a JWK Set."""
    answer = httpx.get(url, timeout=10)
    keys = answer.json() if answer.status_code == 200 and len(answer.content) <= _LIMIT else None
    if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
        raise ValueError(f"{url} did not answer a JWK Set (HTTP {answer.status_code})")
    return keys


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def hs256_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """A compact JWS ``header.claims.signature`` with HMAC-SHA256 keyed by ``secret`` (``header["alg"]`` is set to
    ``HS256``). joserfc refuses a public key or empty bytes as an HMAC key by design; an attacker's tool does not,
    so this one signs with the standard library's ``hmac``. Raises ``TypeError`` unless ``secret`` is bytes."""
    if not isinstance(secret, bytes):
        raise TypeError("secret must be bytes (e.g. a PEM's bytes, or b'' for an empty file)")
    signing_input = f"{_b64(json.dumps({**header, 'alg': 'HS256'}).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def with_claims(token: str, claims: dict[str, Any]) -> str:
    """``token`` with its payload replaced by ``claims``, its header and signature kept as they were (the signature
    no longer matches: only an agent that never verifies accepts it). Raises ``ValueError`` for a token that is
    not a compact JWS."""
    claims_of(token)  # a compact JWS, or a clear error
    header, _, signature = token.split(".")
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def raw_get(url: str, path: str, *, timeout: float = 10) -> tuple[int, str]:
    """``GET path`` over a plain socket to the loopback server at ``url``, the path sent byte for byte (no dot
    segment resolved, no percent-encoding changed) after the URL's own path (a private lab's secret prefix);
    returns (status, body). Raises ``ValueError`` for a URL that is not ``http://127.0.0.1:port[/prefix]`` or a
    path with a space or line break, ``OSError`` when the server is down."""
    where = urlsplit(url)
    if where.scheme != "http" or where.hostname != "127.0.0.1" or where.port is None:
        raise ValueError("raw_get talks to a lab server: http://127.0.0.1:PORT")
    if not path.startswith("/") or any(c in path for c in " \r\n\t"):
        raise ValueError("the path must start with / and hold no space or line break")
    target = where.path.rstrip("/") + path
    request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{where.port}\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", where.port), timeout=timeout) as sock:
        sock.sendall(request.encode("ascii", "strict"))
        answer = b""
        while chunk := sock.recv(65_536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body.decode("utf-8", "replace")
