# globex's hierarchy implies nothing: files:write does not bring files:read there, so ask for both by name,
# from globex's own authorization server.
globex_files = lab.token(["files:write", "files:read"], tenant="globex")
args = {"path": "note.txt", "content": "hi"}
print({capability: lab.execute(capability, args, token=globex_files, path="/t/globex/").status
       for capability in ("write_file", "read_file")})
challenge.check()
