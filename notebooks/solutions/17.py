# A reference solution for challenge 17. First the attack, after start(): a token alice's client got for the proxy
# (RFC 8707 resource = the proxy's URL), passed through unchanged, is served by the upstream.
alice = user_token(lab, scopes=["api:read", "api:write", "files:read"], resource=lab.proxy.url)
print("passed through:", through_proxy(lab, alice).status_code, lab.downstream.audit.events()[-1].actors)
# The fix at the proxy: exchange the caller's token for the upstream (RFC 8693), narrowed to what the call needs.
lab.proxy.configure(passthrough=False, scope="api:write")
# The fix at the upstream: serve only tokens issued for it (RFC 8707 audience); keep its delegation rule.
lab.downstream.reload(lab.downstream.rule, check_audience=True)
challenge.check()
