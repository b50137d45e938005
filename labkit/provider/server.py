"""One tenant's OAuth 2.0 authorization server on authlib's components (RFC 6749, 7636, 7009, 7662, 9068).

The grants live in ``grants``, token issuing in ``tokens``, the request type in ``request``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidClientError, OAuth2Error, UnsupportedResponseTypeError

from .cimd import CimdResolver, is_url_client_id
from .consent import ConsentBook
from .dpop import TokenEndpointDPoP
from .grants import (
    AuthorizationCode,
    ClientCredentials,
    Introspection,
    RefreshToken,
    Revocation,
    StrictPKCE,
)
from .idp import EnterpriseIdP
from .keys import KeyRing
from .models import Client, Store
from .oidc import LabOpenID
from .request import LabRequest, current_request, use_request
from .rfc7523 import IdentityAssertionGrant, PrivateKeyJWT
from .rfc7591 import Registration, RegistrationPolicy
from .rfc8693 import TokenExchangeGrant
from .rfc8707 import InvalidTargetError
from .tokens import TokenIssuer
from .wire import basic_credentials

__all__ = ["InvalidTargetError", "LabAuthorizationServer", "LabRequest"]


class LabAuthorizationServer(TokenIssuer, AuthorizationServer):  # type: ignore[misc]
    """One tenant's authorization server: clients, users, keys, tokens."""

    def __init__(self, *, tenant: str | None, clock: Callable[[], float], issuer: Callable[[], str]) -> None:
        super().__init__(scopes_supported=None)
        self.tenant = tenant
        self.clock = clock
        self.issuer = issuer
        self.store = Store(clock)
        self.keys = KeyRing(tenant or "default", clock)
        self.dpop = TokenEndpointDPoP(clock)  # RFC 9449 at the token endpoint
        self.default_audience = "api://oauth2-lab-agent"
        self.register_token_generator("default", self._generate)
        self.register_grant(ClientCredentials)
        self.oidc = LabOpenID(self)  # OIDC Core: ID tokens for scope=openid (code grant here, refresh in tokens)
        self.register_grant(AuthorizationCode, [StrictPKCE(required=True), self.oidc])
        self.register_grant(RefreshToken)
        self.register_endpoint(Introspection)
        self.register_endpoint(Revocation)
        self.idp: EnterpriseIdP | None = None  # the trusted enterprise IdP (SEP-990), set by MockProvider
        self.register_client_auth_method("private_key_jwt", PrivateKeyJWT(self))
        self.register_grant(IdentityAssertionGrant)
        self.register_grant(TokenExchangeGrant)
        self.registration = Registration(self, RegistrationPolicy())
        self.register_endpoint(self.registration)
        self.cimd = CimdResolver(clock=clock)  # shared across tenants by MockProvider
        self.consents = ConsentBook(clock)  # consent pages awaiting the user's answer (prompt=consent)
        self.frame_ancestors: tuple[str, ...] = ()  # origins that may frame the consent page (none by default)

    async def resolve_client(self, request: LabRequest) -> None:
        """Fetch the metadata document of a URL ``client_id`` (unless it is a registered client) for this request.

        Raises ``CimdError`` (``invalid_client``) when the document is refused.
        """
        client_id = request.payload.data.get("client_id")
        if isinstance(client_id, str) and is_url_client_id(client_id) and client_id not in self.store.clients:
            request.lab_client = await self.cimd.resolve(client_id)

    def authenticate_client(self, request: LabRequest, methods: list[str], endpoint: str = "token") -> Client:
        """The one client a request authenticates as, at every client-authenticated endpoint.

        Raises ``InvalidClientError`` (401) for two credentials in one request, or a ``client_id`` naming another
        client than the one authenticated; ``InvalidDPoPProofError`` for a DPoP proof spent before.
        """
        data = request.payload.data
        basic_id, _secret = basic_credentials(request.headers)
        presented = [basic_id is not None, "client_secret" in data,
                     "client_assertion" in data or "client_assertion_type" in data]
        # RFC 6749 §2.3: a client MUST NOT use more than one authentication method in a request
        if sum(presented) > 1:
            raise InvalidClientError(description="use one client authentication method per request", status_code=401)
        client: Client = super().authenticate_client(request, methods, endpoint)
        # RFC 7521 §4.2 (and RFC 6749 §2.3.1): a client_id sent alongside names the client that authenticated
        if data.get("client_id", client.client_id) != client.client_id:
            raise InvalidClientError(description="client_id is not the authenticated client", status_code=401)
        proof = getattr(request, "lab_dpop", None)
        if proof is not None:
            # RFC 9449 §11.1: the token request's proof is spent now, on this client's share, refused or not later
            self.dpop.spend(proof, client.client_id)
        return client

    # -- authlib hooks ------------------------------------------------------------------------
    def query_client(self, client_id: str) -> Client | None:
        client = self.store.clients.get(client_id)
        if client is None and is_url_client_id(client_id):
            # a metadata document client: fetched (awaited) by the endpoint before authlib runs
            resolved = getattr(current_request(), "lab_client", None)
            if isinstance(resolved, Client) and resolved.client_id == client_id:
                return resolved
        return client

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        pass  # records are made by the generator, which knows the token's claims

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> tuple[int, Any, list[Any]]:
        return status, body, headers

    def create_oauth2_request(self, request: LabRequest) -> LabRequest:
        return request

    def create_json_request(self, request: LabRequest) -> LabRequest:
        return request

    def handle_error_response(self, request: LabRequest, error: OAuth2Error) -> Any:
        from .wire import safe_description

        error.description = safe_description(error.description)
        return super().handle_error_response(request, error)

    def get_authorization_grant(self, request: LabRequest) -> Any:
        try:
            return super().get_authorization_grant(request)
        except UnsupportedResponseTypeError as error:
            # never repeat the client's value in error_description (RFC 6749 §4.1.2.1)
            raise UnsupportedResponseTypeError(
                "response_type must be code", "code", redirect_uri=error.redirect_uri
            ) from None

    def current_request(self) -> LabRequest | None:
        """The request being handled by ``run`` (None outside it)."""
        return current_request()

    def run(self, request: LabRequest, call: Callable[[LabRequest], Any]) -> Any:
        """Run an authlib call with ``request`` as the current request (read by the token generator)."""
        with use_request(request):
            return call(request)
