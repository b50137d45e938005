"""UNSAFE BY DESIGN: a vulnerable agent for lesson 10, with documented, switchable mistakes.

Only ``Lab(vulnerable={...})`` starts it, on its own port, beside the real agent; nothing in ``sample_agent``,
the guard or the configuration imports this package, so no ``agentup.yml`` can turn any of it on. Every
weakness here is exploitable on purpose and refused by the real agent (``tests/lessons/test_vulnerable.py``).
No ready exploit lives here: ``craft`` holds the small primitives lesson 10's learner builds each attack from.
"""

from __future__ import annotations

from .agent import AttackerSite, VulnerableAgent
from .craft import claims_of, fetch_jwks, hs256_token, raw_get, with_claims
from .weaknesses import DEFENCES, TOKEN_WEAKNESSES, WEAKNESSES

__all__ = ["DEFENCES", "TOKEN_WEAKNESSES", "WEAKNESSES", "AttackerSite", "VulnerableAgent", "claims_of",
           "fetch_jwks", "hs256_token", "raw_get", "with_claims"]
