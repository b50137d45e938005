"""Reading provider requests safely: bounded bodies, RFC 6749 Appendix A parameter syntax, Basic credentials.

Every refusal is an authlib ``OAuth2Error`` (``invalid_request`` or ``invalid_client``) whose description
never repeats what the client sent, so no input can make the provider answer 5xx.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from starlette.requests import Request

from .._json import BodyTooLargeError, loads_bounded, read_bounded
from .request import LabRequest

__all__ = [
    "MAX_BODY",
    "MAX_DESCRIPTION",
    "MAX_VALUE",
    "LabJsonRequest",
    "basic_credentials",
    "check_parameters",
    "lab_json_request",
    "lab_request",
    "read_body",
    "read_json",
    "safe_description",
]

MAX_BODY = 64 * 1024
MAX_VALUE = 8 * 1024
MAX_DESCRIPTION = 200

# RFC 6749 Appendix A: VSCHAR = %x20-7E; NQCHAR = %x21 / %x23-5B / %x5D-7E (no quote, no backslash).
_VSCHAR = re.compile(r"[\x20-\x7e]*")
_NQCHAR = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]*")
_NQSCHAR_WORDS = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*|")
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]*")  # RFC 7636 §4.1
_SYNTAX: dict[str, re.Pattern[str]] = {
    "client_id": _VSCHAR, "client_secret": _VSCHAR, "state": _VSCHAR, "code": _VSCHAR, "token": _VSCHAR,
    "refresh_token": _VSCHAR, "login_hint": _VSCHAR, "nonce": _VSCHAR,
    "response_type": _NQSCHAR_WORDS, "scope": _NQSCHAR_WORDS,
    "grant_type": _NQCHAR, "redirect_uri": _NQCHAR, "resource": _NQCHAR, "audience": _NQCHAR,
    "token_type_hint": _NQCHAR, "code_challenge_method": _NQCHAR,
    "code_verifier": _UNRESERVED, "code_challenge": _UNRESERVED,
    # RFC 7523 §2.1-2.2 and RFC 8693 §2.1: assertions and tokens are compact JWTs or opaque VSCHAR strings
    "assertion": _VSCHAR, "client_assertion": _VSCHAR, "client_assertion_type": _NQCHAR,
    "subject_token": _VSCHAR, "actor_token": _VSCHAR, "subject_token_type": _NQCHAR,
    "actor_token_type": _NQCHAR, "requested_token_type": _NQCHAR,
}
# RFC 6749 §5.2: error_description holds only these characters.
_NOT_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def safe_description(text: str | None) -> str | None:
    """An ``error_description`` cut to 200 characters of the RFC 6749 §5.2 set (others become ``?``)."""
    if not text:
        return text
    cleaned = _NOT_DESCRIPTION.sub("?", text)
    return cleaned if len(cleaned) <= MAX_DESCRIPTION else cleaned[: MAX_DESCRIPTION - 3] + "..."


def check_parameters(pairs: list[tuple[str, str]]) -> None:
    """Refuse oversized values, NUL bytes and values outside their RFC 6749 Appendix A syntax.

    Raises ``InvalidRequestError`` naming the parameter (only names the lab knows are repeated back).
    """
    for key, value in pairs:
        if len(key) > 256 or len(value) > MAX_VALUE or "\x00" in value:
            raise InvalidRequestError("parameter too large or malformed")
        syntax = _SYNTAX.get(key)
        # RFC 6749 Appendix A: each parameter's character set
        if syntax is not None and not syntax.fullmatch(value):
            raise InvalidRequestError(f"parameter {key} has characters outside its RFC 6749 Appendix A syntax")


def basic_credentials(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """``(client_id, secret)`` from ``Authorization: Basic`` via authlib, or ``(None, None)`` for another scheme.

    Raises ``InvalidClientError`` (RFC 6749 §5.2) when Basic credentials are not ASCII base64 of UTF-8.
    """
    header = headers.get("authorization") or headers.get("Authorization") or ""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        # RFC 7617 §2: base64 of UTF-8 user-id ":" password; authlib would raise on anything else
        if not base64.b64decode(value.strip().encode("ascii"), validate=True).decode("utf-8"):
            raise ValueError("empty credentials")
    except (UnicodeError, binascii.Error, ValueError):
        raise InvalidClientError(description="malformed Basic credentials", status_code=401) from None
    user, password = extract_basic_authorization({"Authorization": f"Basic {value.strip()}"})
    return user, password


async def read_body(request: Request) -> bytes:
    """The body, refused before reading when ``Content-Length`` says too large and while reading past the cap.

    Raises ``InvalidRequestError``.
    """
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise InvalidRequestError("request body too large or Content-Length malformed")
    try:
        return await read_bounded(request.stream(), MAX_BODY)
    except BodyTooLargeError:
        raise InvalidRequestError("request body too large") from None


async def read_json(request: Request) -> Any:
    """A bounded JSON body (depth-limited, no NaN); raises ``ValueError`` or ``InvalidRequestError``."""
    return loads_bounded(await read_body(request))


class _JsonPayload:
    def __init__(self, data: Any) -> None:
        self.data = data


class LabJsonRequest:
    """An authlib JSON request (RFC 7591 registration) from an already-read, bounded JSON body."""

    def __init__(self, method: str, uri: str, headers: dict[str, str], data: Any) -> None:
        self.method, self.uri, self.headers = method, uri, headers
        self.payload = _JsonPayload(data)


async def lab_json_request(request: Request) -> LabJsonRequest:
    """Build the authlib JSON request; refuse a wrong content type or a body that is not bounded JSON.

    Raises ``InvalidRequestError``.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise InvalidRequestError("use Content-Type: application/json")
    try:
        data = await read_json(request)
    except ValueError:
        raise InvalidRequestError("the body is not valid JSON") from None
    headers = {k.title(): v for k, v in request.headers.items()}
    return LabJsonRequest(request.method, str(request.url), headers, data)


async def lab_request(request: Request, *, form: bool = True) -> LabRequest:
    """Build the authlib request; refuse wrong content types, bad syntax, oversized or repeated parameters.

    Raises ``InvalidRequestError`` or ``InvalidClientError``.
    """
    try:
        query = parse_qsl(request.url.query, keep_blank_values=True)
    except ValueError:
        raise InvalidRequestError("malformed query string") from None
    pairs: list[tuple[str, str]] = []
    if form:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise InvalidRequestError("use Content-Type: application/x-www-form-urlencoded")
        if query:
            raise InvalidRequestError("parameters belong in the form body, not the query string")
        try:
            text = (await read_body(request)).decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
        except (UnicodeDecodeError, ValueError):
            raise InvalidRequestError("malformed form body") from None
    check_parameters([*query, *pairs])
    basic_credentials(request.headers)
    headers = {k.title(): v for k, v in request.headers.items()}
    return LabRequest(request.method, str(request.url), headers, query, pairs)
