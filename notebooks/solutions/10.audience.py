# A genuine admin token, signed by the right issuer, minted for another service.
elsewhere = lab.provider.mint(["admin"], audience="api://another-service")
print("audience_unchecked on: ", vulnerable.execute("admin_status", token=elsewhere).status_code, "|", vulnerable.last_reasons()[0])
vulnerable.disable("audience_unchecked")
print("audience_unchecked off:", vulnerable.execute("admin_status", token=elsewhere).status_code, "|", vulnerable.last_reasons()[0])
challenge.check()
