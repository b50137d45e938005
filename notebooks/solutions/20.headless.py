# A reference solution for challenge 20.headless: a key pair, its public half registered, one-time assertions.
import secrets
import time

from joserfc import jwt
from joserfc.jwk import ECKey

agent_key = ECKey.generate_key("P-256", parameters={"kid": "agent-key-1"})   # the private half never leaves
headless = httpx.post(lab.provider_url + "/register", json={
    "client_name": "nightly report agent", "grant_types": ["client_credentials"], "scope": "api:read",
    "token_endpoint_auth_method": "private_key_jwt",
    "jwks": {"keys": [agent_key.as_dict(private=False) | {"alg": "ES256", "use": "sig"}]}}).json()


def client_assertion() -> str:
    """A fresh assertion per request (RFC 7523 §3): iss = sub = client_id, aud = the issuer, new jti, short exp."""
    now = int(time.time())
    claims = {"iss": headless["client_id"], "sub": headless["client_id"], "aud": lab.provider_url,
              "jti": secrets.token_urlsafe(16), "iat": now, "exp": now + 60}
    return jwt.encode({"alg": "ES256", "kid": "agent-key-1"}, claims, agent_key)


issued = httpx.post(lab.provider_url + "/token", data={
    "grant_type": "client_credentials", "scope": "api:read", "client_id": headless["client_id"],
    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    "client_assertion": client_assertion()}).json()
print("tools/list:", lab.call("tools/list", {}, token=issued["access_token"], path="/mcp").status)
challenge.check()
