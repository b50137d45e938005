"""The independent JWT corpus (tests/data/vectors; ../shared/vectors too when present): every verdict right."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest

from labkit import ConfigError, validate_security_config
from labkit.auth import build_validator
from labkit.errors import AuthError

from .corpus import load, params, sources

pytestmark = pytest.mark.vectors

CORPORA = load("jwt_cases.json")


def oauth2_config(case: dict[str, Any]) -> dict[str, Any]:
    cfg = case["config"]
    return {
        "validation_strategy": "jwt",
        "jwt_algorithms": cfg["algorithms"],
        "jwt_issuer": cfg["issuer"],
        "jwt_audience": cfg["audience"],
        "leeway": cfg["leeway"],
        "required_scopes": cfg["required_scopes"],
        "required_claims": cfg["required_claims"],
        "jwks": case["key_setup"]["jwks"],
    }


@contextmanager
def ssrf_trap(probe: str | list[str] | None) -> Iterator[socket.socket | None]:
    """Listen where the token points, to prove the validator never connects there."""
    urls = [probe] if isinstance(probe, str) else list(probe or [])
    if not urls:
        yield None
        return
    parts = urlsplit(urls[0])
    sock = socket.socket()
    try:
        sock.bind((parts.hostname or "127.0.0.1", parts.port or 80))
    except OSError:
        sock.close()
        yield None
        return
    sock.listen(8)
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()


async def verdict(case: dict[str, Any]) -> tuple[str, str | None]:
    try:
        cfg = validate_security_config({"oauth2": oauth2_config(case)}, env={})
    except ConfigError as exc:
        # Refused before any token is seen (e.g. 'none' in the allow-list): a reject of the algorithm class.
        assert any("jwt_algorithms" in path for path, _ in exc.errors), exc.errors
        return "reject", "algorithm"
    validator = build_validator(cfg.oauth2, clock=lambda: case["now"])
    try:
        await asyncio.wait_for(validator.validate(case["token"]), timeout=1.0)
    except AuthError as exc:
        return "reject", exc.reason.reason_class
    return "accept", None


@pytest.mark.parametrize("label", list(CORPORA))
def test_corpus_present(label: str) -> None:
    assert len(CORPORA[label]) >= 100, f"corpus missing at {sources()[label] / 'jwt_cases.json'}"


@pytest.mark.parametrize("case", params(CORPORA))
def test_jwt_case(case: dict[str, Any]) -> None:
    started = time.perf_counter()
    with ssrf_trap(case.get("ssrf_probe")) as trap:
        result, reason = asyncio.run(verdict(case))
        if trap is not None:
            with pytest.raises(BlockingIOError):
                trap.accept()
    assert time.perf_counter() - started < 5  # generous: the corpus asks for under a second
    if case["strictness"] == "library-defined":
        return
    assert result == case["expect"], f"{case['id']}: {case['description']} -> {result} ({reason})"
    if result == "reject":
        acceptable = case.get("acceptable_reason_classes") or [case.get("expect_reason_class")]
        assert reason in acceptable, f"{case['id']}: reason {reason} not in {acceptable}"
