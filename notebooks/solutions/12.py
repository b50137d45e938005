# A reference solution for challenge 12: a confidential web app, the code flow with PKCE, only api:read, for /mcp.
import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx

callback_uri, mcp_resource = "http://127.0.0.1:8123/callback", lab.agent_url + "/mcp"
web_app = httpx.post(lab.provider_url + "/register", json={
    "redirect_uris": [callback_uri], "scope": "api:read", "grant_types": ["authorization_code"],
    "token_endpoint_auth_method": "client_secret_basic"}).json()
verifier = secrets.token_urlsafe(48)   # RFC 7636: the verifier stays here; its S256 hash goes to /authorize
code_challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
redirect = httpx.get(lab.provider_url + "/authorize", params={
    "response_type": "code", "client_id": web_app["client_id"], "redirect_uri": callback_uri, "scope": "api:read",
    "state": secrets.token_urlsafe(16), "code_challenge": code_challenge, "code_challenge_method": "S256",
    "resource": mcp_resource}).headers["location"]
code = parse_qs(urlsplit(redirect).query)["code"][0]
token = httpx.post(lab.provider_url + "/token", auth=(web_app["client_id"], web_app["client_secret"]), data={
    "grant_type": "authorization_code", "code": code, "redirect_uri": callback_uri, "code_verifier": verifier,
    "resource": mcp_resource}).json()["access_token"]
print("tools/list on /mcp:", lab.call("tools/list", {}, token=token, path="/mcp").status)
challenge.check()
