# Two tokens from the provider: one without api:write (refused for scope), one with it (allowed).
reader, writer = lab.token(["api:read"]), lab.token(["api:write"])
refused = lab.rpc("execute", {"capability": "write_operation"}, token=reader)
allowed = lab.rpc("execute", {"capability": "write_operation"}, token=writer)
print(refused.status_code, refused.headers["www-authenticate"].split(",")[1].strip(), "·", allowed.status_code)
challenge.check()
