"""UNSAFE BY DESIGN: a vulnerable agent for lesson 10, with documented, switchable mistakes.

Only ``Lab(vulnerable={...})`` starts it, on its own port, beside the real agent; nothing in ``sample_agent``,
the guard or the configuration imports this package, so no ``agentup.yml`` can turn any of it on. Every
weakness here is exploitable on purpose and refused by the real agent (``tests/lessons/test_vulnerable.py``).
"""

from __future__ import annotations

from .agent import AttackerSite, VulnerableAgent
from .exploits import DEFENCES, PATH_EXPLOIT, exploit_token, replay_table
from .weaknesses import TOKEN_WEAKNESSES, WEAKNESSES

__all__ = ["DEFENCES", "PATH_EXPLOIT", "TOKEN_WEAKNESSES", "WEAKNESSES", "AttackerSite", "VulnerableAgent",
           "exploit_token", "replay_table"]
