"""The lab-only admin API (``X-Lab-Admin`` header): key rotation, direct minting, clients, fault injection.

The header carries the provider's ``admin_token``: random per provider (``secrets.token_urlsafe(32)``), known to
the process that built it (``Lab`` holds it as ``lab.provider.admin_token``). ``labkit serve`` and ``labkit lab``
write it to ``~/.labkit/admin/<port>`` (0600, in a 0700 folder) while they run; ``labkit mint --lifetime`` and
``labkit probe --provider`` read it there, or from ``$LAB_ADMIN_TOKEN`` (``admin_secret_for``).
"""

from __future__ import annotations

import hmac
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .client_endpoints import client_listing
from .responses import NO_STORE
from .server import LabAuthorizationServer
from .wire import read_json, safe_description

if TYPE_CHECKING:
    from .app import MockProvider

__all__ = ["admin_clients", "admin_faults", "admin_mint", "admin_rotate", "admin_secret_for", "admin_secret_path",
           "write_admin_secret"]

_UNAUTHORIZED = {"error": "unauthorized"}
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_MAX_SECRET = 1024


def _admin_ok(provider: MockProvider, request: Request) -> bool:
    given = [value for key, value in request.scope["headers"] if key == b"x-lab-admin"]
    # constant-time comparison of the one header with the provider's random secret
    return len(given) == 1 and hmac.compare_digest(given[0], provider.admin_token.encode())


def admin_secret_path(port: int) -> Path:
    """Where ``labkit serve``/``labkit lab`` keep the admin secret of their provider on ``port``."""
    return Path.home() / ".labkit" / "admin" / str(port)


def write_admin_secret(secret: str, port: int) -> Path:
    """Write ``secret`` to ``admin_secret_path(port)``: 0600, in a 0700 folder, by an atomic replace that never
    follows a planted symlink. Raises ``OSError`` when it cannot (the caller says so)."""
    path = admin_secret_path(port)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = os.lstat(path.parent)
    if not stat.S_ISDIR(folder.st_mode) or folder.st_uid != os.getuid():
        raise OSError(f"{path.parent} is not a folder of this user")
    os.chmod(path.parent, 0o700)
    temp = path.with_name(f".{port}.{os.getpid()}.tmp")
    temp.unlink(missing_ok=True)  # a stale one, or a planted link: removed, never followed
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.write(fd, secret.encode())
    finally:
        os.close(fd)
    os.replace(temp, path)
    return path


def admin_secret_for(provider_url: str) -> str | None:
    """The admin secret for the provider at ``provider_url``: ``$LAB_ADMIN_TOKEN``, else the file ``labkit serve``
    wrote for a loopback provider's port (a regular file of this user, 0600), else None. Raises nothing."""
    given = os.environ.get("LAB_ADMIN_TOKEN")
    if given:
        return given
    try:
        parts = urlsplit(provider_url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None
    if parts.hostname not in _LOOPBACK or port is None:
        return None  # never a secret for a provider elsewhere
    try:
        fd = os.open(admin_secret_path(port), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            return None
        secret = os.read(fd, _MAX_SECRET).decode("ascii", "replace").strip()
    except OSError:
        return None
    finally:
        os.close(fd)
    return secret or None


async def admin_rotate(provider: MockProvider, request: Request, server: LabAuthorizationServer) -> Response:
    """``POST /admin/rotate``: new signing keys (the old stay published for their grace period)."""
    if not _admin_ok(provider, request):
        return JSONResponse(_UNAUTHORIZED, 401)
    return JSONResponse({"rotated": server.keys.rotate()})


async def admin_mint(provider: MockProvider, request: Request, server: LabAuthorizationServer) -> Response:
    """``POST /admin/mint``: direct minting over HTTP for ``labkit mint --lifetime``."""
    if not _admin_ok(provider, request):
        return JSONResponse(_UNAUTHORIZED, 401)
    try:
        spec = await read_json(request)
        audience = spec.get("audience")
        if audience is not None and not isinstance(audience, str):
            raise ValueError("audience must be a string")
        token = provider.mint(
            spec.get("scopes", []), subject=spec.get("subject"), client_id=spec.get("client_id", "lab-client"),
            lifetime=int(spec.get("lifetime", 3600)), alg=spec.get("alg", "RS256"), persona=spec.get("persona"),
            tenant=server.tenant, audience=audience,
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return JSONResponse({"error": "invalid_request", "error_description": safe_description(str(exc))}, 400)
    return JSONResponse({"access_token": token, "token_type": "Bearer"}, headers=NO_STORE)


async def admin_clients(provider: MockProvider, request: Request, server: LabAuthorizationServer) -> Response:
    """``GET /admin/clients``: the tenant's clients, registered ones last (metadata only, never a secret)."""
    if not _admin_ok(provider, request):
        return JSONResponse(_UNAUTHORIZED, 401)
    return JSONResponse({"clients": client_listing(server)})


async def admin_faults(provider: MockProvider, request: Request, server: LabAuthorizationServer) -> Response:
    """``GET/POST/DELETE /admin/faults``: list, set (``{"endpoint": ..., ...}``) or clear injected faults."""
    if not _admin_ok(provider, request):
        return JSONResponse(_UNAUTHORIZED, 401)
    if request.method == "DELETE":
        provider.faults.reset()
    elif request.method == "POST":
        try:
            spec = await read_json(request)
            endpoint = spec.pop("endpoint")
            provider.faults.set(endpoint, tenant=server.tenant, **spec)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return JSONResponse({"error": "invalid_request", "error_description": safe_description(str(exc))}, 400)
    return JSONResponse({"faults": provider.faults.active()})
