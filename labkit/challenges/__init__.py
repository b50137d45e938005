"""Lesson challenges: a goal, up to three hints, a check from the lab's own state, progress in a local file.

    from labkit.challenges import start
    challenge = start("00", lab)    # shows the goal
    challenge.hint()                # the next hint
    challenge.check()               # decided from the audit log, the config or live answers; recorded when solved
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .base import Attempt, Challenge, CheckResult
from .checks import CHECKS
from .delegation import check_13
from .dpop import check_14
from .progress import Progress, ProgressFileError, default_progress_path

if TYPE_CHECKING:
    import pandas as pd

    from ..lab import Lab

__all__ = ["CHALLENGES", "Attempt", "Challenge", "CheckResult", "Progress", "ProgressFileError",
           "default_progress_path",
           "progress_table", "start"]


def _c(lesson: str, title: str, goal: str, *hints: str) -> Challenge:
    return Challenge(lesson, title, goal, hints, CHECKS[lesson])


CHALLENGES: dict[str, Challenge] = {c.lesson: c for c in (
    _c("00", "403, then 200", "Make `write_operation` answer 403 to one token and 200 to another, both from "
       "`lab.token(...)`.",
       "The 403's WWW-Authenticate header names the scope it wants.",
       "`lab.token([...])` takes the scopes to ask for.",
       "`lab.rpc('execute', {'capability': 'write_operation'}, token=lab.token(['api:write']))`"),
    _c("01", "Pin the algorithm", "Write a configuration (a mapping for `validate_security_config`) that accepts "
       "HS256 tokens and refuses HS384 tokens signed with the same secret; the secret must not be guessable. "
       "Check it with `check(config=...)`: the check mints both tokens and runs the real validator.",
       "`jwt_algorithm` (one) or `jwt_algorithms` (a list) is the allow-list.",
       "RFC 8725 §3.5: a human-memorable password is not a key. `secrets.token_urlsafe(48)` is.",
       "`{'oauth2': {'jwt_secret': secrets.token_urlsafe(48), 'jwt_algorithm': 'HS256'}}`"),
    _c("02", "Revoked means refused", "Make the running agent (not a validator in the notebook) allow an opaque "
       "token, then refuse it as `inactive` after you revoke it.",
       "`lab.reload({...})` restarts the agent under an introspection configuration.",
       "With `introspection_cache_ttl: 0` the agent asks the provider every time.",
       "Revoke with `lab.revoke(token)` (RFC 7009, as the opaque persona's client)."),
    _c("03", "One scope for the files", "With a token carrying exactly one scope (not `admin`), get a 200 from "
       "`read_file` and from `write_file`, and a 403 from `write_operation`.",
       "Look for a scope whose expansion holds `files:read` too.",
       "`explorer.set(granted={...})` shows what a grant reaches before you ask for a token.",
       "`files:write` implies `files:read`."),
    _c("04", "A token for this resource", "Get a token whose audience is the `resource` the agent advertises for "
       "`/mcp` (RFC 9728), and get a 200 from `tools/list` with it.",
       "The metadata is at `/.well-known/oauth-protected-resource/mcp`.",
       "`lab.token(..., resource=...)` sends RFC 8707's `resource` parameter.",
       "`lab.token(['api:read'], resource=metadata['resource'])`"),
    _c("05", "echo needs api:write", "Load into the lab, with the builder, a configuration under which `echo` "
       "needs `api:write`: an `api:read` token then gets 403 and an `api:write` token 200.",
       "`echo` belongs to the plugin `system_tools`.",
       "The builder's `required_scopes` field applies to every request.",
       "A `plugins:` entry `{plugin_id: system_tools, required_scopes: [api:write]}` with `api:write: [api:read]`."),
    _c("06", "Accept Auth0, keep the audience", "Reload the agent so that tokens from the Auth0 persona pass, "
       "while tokens minted for another service (another `aud`) are still refused.",
       "Read the Auth0 token's `iss` and `aud` with `inspect_token`.",
       "`persona_oauth2('auth0', lab.provider_url, audience)` writes the block.",
       "Keep `jwt_audience` set: without it, any token of that issuer passes (RFC 8725 §3.9)."),
    _c("07", "A limit of one", "Reload the agent so that a new caller gets 200 on its first `write_operation` and "
       "429 on its second.",
       "The limit is `rate_limited`'s `requests_per_minute`.",
       "It counts per principal: the check uses a caller nobody has used before.",
       "`{'name': 'rate_limited', 'params': {'requests_per_minute': 1}}`"),
    _c("08", "Write at globex", "Get a 200 from `write_operation` at `/t/globex/`, where `admin` implies nothing.",
       "globex's hierarchy only knows `api:read`.",
       "A scope granted by name needs no hierarchy.",
       "`lab.token(['api:write'], tenant='globex')`, sent to `path='/t/globex/'`."),
    _c("09", "Your own hook", "Get a push notification delivered to, and verified by, the lab's receiver on a hook "
       "named `challenge`.",
       "`lab.webhooks.url('challenge')` is the URL to give the agent.",
       "The receiver checks the notification token you announce with `expect_token`.",
       "Send `message/send` with `configuration.pushNotificationConfig` = {url, token}."),
    _c("10", "Beyond tokens", "On the vulnerable agent, read alice's private note with bob's token "
       "(`shared_cache`), and reach `/admin/status` without any token (`path_differential`).",
       "`whoami` answers are cached; what is the cache key?",
       "The guard strips `/t/{tenant}` from the raw path; the router resolves `..` afterwards.",
       "`lab.vulnerable.get(PATH_EXPLOIT)`; alice calls `whoami` first, then bob."),
    _c("11", "Export the refusals", "Write the audit log's deny events, and only those, to a JSON-lines file; "
       "check it with `check(path=...)`.",
       "`lab.audit.events()` gives the events; each has `.decision` and `.to_json()`.",
       "One event per line, in the log's order.",
       "`path.write_text(''.join(e.to_json() + '\\n' for e in lab.audit.events() if e.decision == 'deny'))`"),
    _c("12", "A web app of your own", "Register a confidential client (`client_secret_basic`) at the provider's "
       "`/register` (RFC 7591), take it through the authorization code flow with PKCE for the agent's `/mcp` "
       "resource, and get a 200 from `tools/list` on `/mcp` with the user's token it receives.",
       "The policy accepts an `http` redirect URI on a loopback IP literal (127.0.0.1), any port.",
       "`/authorize` approves the lab user at once and redirects with `code`; send `code_challenge` (S256) and "
       "`resource` there, `code_verifier` and the same `resource` to `/token`.",
       "The reference solution below does it with httpx in nine lines; `lab.call('tools/list', {}, token=..., "
       "path='/mcp')` is the last one."),
    Challenge("13", "One hop only", "The downstream agent accepts alice's call through `lab-agent`, and also "
              "through a chain of two actors (a delegated token exchanged again). Make it refuse any chain longer "
              "than one actor, while the agent's own delegation keeps working. The check exchanges real tokens "
              "and calls the downstream.",
              ("The rule sits on the downstream's `external_api` plugin: `lab.downstream.rule`.",
               "`max_delegation_depth` counts the actors in `act`; 0 refuses every delegated token.",
               "`lab.downstream.reload({'allowed_actors': ['lab-agent'], 'max_delegation_depth': ...})`"),
              check_13),
    Challenge("14", "Bound to a key", "Get a 200 from `write_operation` with a DPoP-bound token and a proof you "
              "signed, and show the agent refusing that same token when a thief presents it as a Bearer token.",
              ("The token endpoint binds the token to the key of the DPoP proof you send it (`cnf.jkt`).",
               "The proof names this request: `htm` POST, `htu` the agent's URL, and `ath` the token's hash.",
               "`make_proof(key, method='POST', url=lab.agent_url + '/', iat=clock(), access_token=token)` with "
               "`Authorization: DPoP <token>`; then the same token as `Authorization: Bearer`."),
              check_14),
)}


def start(lesson: str, lab: Lab | None, *, progress: str | os.PathLike[str] | Progress | None = None) -> Attempt:
    """The challenge of ``lesson`` ("00", "01", ...) against ``lab``. Raises ``KeyError`` for an unknown lesson."""
    if lesson not in CHALLENGES:
        raise KeyError(f"no challenge for lesson {lesson!r}; lessons: {', '.join(CHALLENGES)}")
    store = progress if isinstance(progress, Progress) else Progress(progress)
    return Attempt(CHALLENGES[lesson], lab, store)


def progress_table(progress: str | os.PathLike[str] | Progress | None = None) -> pd.DataFrame:
    """One row per lesson: its challenge and whether it is solved (from the progress file)."""
    import pandas as pd

    store = progress if isinstance(progress, Progress) else Progress(progress)
    solved = store.solved()
    return pd.DataFrame([{"lesson": c.lesson, "challenge": c.title, "solved": c.lesson in solved}
                         for c in CHALLENGES.values()])
