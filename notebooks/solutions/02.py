# introspection with no cache: every call asks the provider, so a revocation counts at once
lab.reload({"security": {"oauth2": {
    "validation_strategy": "introspection", "introspection_endpoint": f"{lab.provider_url}/introspect",
    "client_id": "lab-agent", "client_secret": "lab-agent-secret", "introspection_cache_ttl": 0}}})
revoked = lab.token(["api:read"], persona="opaque")
print("before revocation:", lab.call("capabilities", token=revoked).status)
lab.revoke(revoked)
print("after revocation:", lab.call("capabilities", token=revoked).status)
challenge.check()
