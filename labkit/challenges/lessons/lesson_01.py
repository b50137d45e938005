"""Lesson 01's challenge, "Pin the algorithm", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ... import algorithms
from ...auth import build_validator
from ...config import validate_security_config
from ...errors import AuthError, ConfigError, Reason
from ..base import Challenge, CheckResult
from ..evidence import NOW, hs_token, result
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark, config: dict[str, Any] | None = None) -> CheckResult:
    """``config`` accepts HS256 and refuses HS384 signed with the same (unguessable) secret."""
    from ...explain import find_weaknesses

    if not isinstance(config, dict):
        return CheckResult(False, "pass your configuration as a mapping: check(config={'oauth2': {...}})")
    try:
        cfg = validate_security_config(config)
    except ConfigError as exc:
        return CheckResult(False, f"the configuration is refused: {str(exc).splitlines()[0]}")
    secret = cfg.oauth2.jwt_secret.get_secret_value() if cfg.oauth2.jwt_secret is not None else None
    if not secret:
        return CheckResult(False, "use a shared secret (oauth2.jwt_secret): this challenge is about HMAC")
    weak = [w for w in find_weaknesses(cfg, {}) if w.path.endswith("jwt_secret")]
    if weak:
        return CheckResult(False, f"{weak[0].path}: {weak[0].message}")
    claims: dict[str, Any] = {"sub": "challenge-01", "iat": NOW, "exp": NOW + 300, "scope": "api:read"}
    if cfg.oauth2.issuers:
        claims["iss"] = cfg.oauth2.issuers[0]
    if cfg.oauth2.audiences:
        claims["aud"] = cfg.oauth2.audiences[0]
    validator = build_validator(cfg.oauth2, clock=lambda: NOW)
    pinned, other = algorithms.HMAC[0], algorithms.HMAC[1]  # HS256 and HS384
    verdicts: dict[str, str] = {}
    for alg in (pinned, other):
        try:
            lab.run(validator.validate(hs_token(secret, alg, claims)))
            verdicts[alg] = "accepted"
        except AuthError as exc:
            verdicts[alg] = exc.reason.value
    missing = []
    if verdicts[pinned] != "accepted":
        missing.append(f"an {pinned} token signed with your secret is refused ({verdicts[pinned]})")
    if verdicts[other] != Reason.ALGORITHM:
        missing.append(
            f"an {other} token signed with the same secret is {verdicts[other]}, not refused for its algorithm"
        )
    return result(missing, "HS256 accepted, HS384 refused (algorithm), and the secret is not guessable")


CHALLENGES = (
    Challenge(
        "01",
        "Pin the algorithm",
        "Write a configuration (a mapping for `validate_security_config`) that accepts "
        "HS256 tokens and refuses HS384 tokens signed with the same secret; the secret must not be guessable. "
        "Check it with `check(config=...)`: the check mints both tokens and runs the real validator.",
        (
            "`jwt_algorithm` (one) or `jwt_algorithms` (a list) is the allow-list.",
            "RFC 8725 §3.5: a human-memorable password is not a key. `secrets.token_urlsafe(48)` is.",
            "`{'oauth2': {'jwt_secret': secrets.token_urlsafe(48), 'jwt_algorithm': 'HS256'}}`",
        ),
        check,
    ),
)
