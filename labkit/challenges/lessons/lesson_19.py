"""Lesson 19's challenge, "Refuse the impersonator", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...lab.consent import Registered, forget, probe
from ...provider.trust import TrustPolicy
from ..base import Challenge, CheckResult
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark) -> CheckResult:
    """The provider's trust policy, now, refuses every impersonation of GitHub Copilot the check registers
    (same name, look-alike names, look-alike host, the real redirect mixed with the phisher's) and still registers
    the real app from its own host and an ordinary local app."""
    if lab.provider.trust == TrustPolicy():
        return CheckResult(False, "the provider's trust policy is the default: any client may call itself GitHub "
                                  "Copilot. Configure one: lab.provider.configure_trust(TrustPolicy(...))")
    phishes, legitimate = probe(lab)
    try:
        return _verdict(lab, mark, phishes, legitimate)
    finally:
        forget(lab, phishes, legitimate)


def _verdict(lab: Lab, mark: Mark, phishes: dict[str, Registered], legitimate: dict[str, Registered]
             ) -> CheckResult:
    registered = [name for name, answer in phishes.items() if answer.client_id]
    if registered:
        return CheckResult(False, f"{', '.join(registered)} registered as {len(registered)} new client(s): a user "
                                  "would see the name they trust on its consent page. A reserved name must come only "
                                  "from its own hosts, and 127.0.0.1 is anybody's on this machine")
    refused = {name: answer for name, answer in legitimate.items() if not answer.client_id}
    if refused:
        name, answer = next(iter(refused.items()))
        return CheckResult(False, f"{name} was refused too ({answer.error}: {answer.description}): a policy that "
                                  "refuses legitimate clients is not a defence, their users go around it")
    # read back from the provider's store: the legitimate clients exist since start(), no phish does
    new = mark.new_clients(lab)
    if not all(answer.client_id in new for answer in legitimate.values()):
        return CheckResult(False, "the legitimate registrations are not in the provider's store since start()")
    return CheckResult(True, f"{len(phishes)} impersonations refused (same name, look-alike names and host, a mixed "
                             "redirect list) and both legitimate clients registered: the name GitHub Copilot now "
                             "belongs to copilot.github.com")


CHALLENGES = (
    Challenge(
        "19",
        "Refuse the impersonator",
        "Configure the provider's trust policy (`lab.provider.configure_trust(TrustPolicy(...))`) so that a client "
        "registering itself as GitHub Copilot, or a look-alike, from any host but the real app's is refused, while "
        "the real app (redirecting to `https://copilot.github.com/oauth/callback`) and an ordinary local app still "
        "register. The check registers both kinds itself.",
        (
            "Compare the two consent pages: which line says where the code goes? That host is what identifies the "
            "app; the name is the client's own claim.",
            "`TrustPolicy` has two keys: `reserved_names` (a name, and the hosts that alone may use it) and "
            "`redirect_hosts` (the https hosts a self-registered client may redirect to at all). The real app "
            "needs both.",
            "Reserve the name for the host of the real redirect URI, written exactly (no scheme, no path); a "
            "loopback address is every local process's.",
        ),
        check,
    ),
)
