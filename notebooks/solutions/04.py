from labkit.lab import inspect_token, mask

# RFC 9728 §3.1: acme's MCP resource publishes its metadata at the well-known path + /t/acme/mcp
acme_metadata = lab.client().get("/.well-known/oauth-protected-resource/t/acme/mcp").json()
print("authorization server:", mask(acme_metadata["authorization_servers"][0], lab))
# RFC 8707: ask acme's authorization server for a token for exactly that resource
acme_token = lab.token(["api:read"], tenant="acme", resource=acme_metadata["resource"])
print("aud:", mask(inspect_token(acme_token)["claims"]["aud"], lab))
print("tools/list:", lab.call("tools/list", {}, token=acme_token, path="/t/acme/mcp").status)
challenge.check()
