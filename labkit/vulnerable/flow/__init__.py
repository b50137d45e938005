"""UNSAFE BY DESIGN: lesson 18's vulnerable authorization flow: an authorization server and a client with documented,
switchable mistakes (``MISTAKES``), the victim's browser and the attacker's site.

Only ``Lab(vulnerable_as=...)`` starts it, on its own loopback ports, beside the real provider (``labkit.provider``,
which stays safe and refuses every attack here for its RFC 9700 reason). Nothing in ``sample_agent``, the guard or the
configuration imports this package, so no ``agentup.yml`` can turn any of it on.
"""

from __future__ import annotations

from .as_ import MALLORY, VulnerableAS
from .client import CLIENT_ID, VulnerableClient
from .lab import Attacker, FlowLab, Victim
from .mistakes import DEFENCES, MISTAKES, Breach, FlowLog, Refusal, mistake_names

__all__ = ["CLIENT_ID", "DEFENCES", "MALLORY", "MISTAKES", "Attacker", "Breach", "FlowLab", "FlowLog", "Refusal",
           "Victim", "VulnerableAS", "VulnerableClient", "mistake_names"]
