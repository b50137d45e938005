# The job needs get_time (api:read) and write_file (files:write): ask for those two, nothing broader.
job_token = lab.token(["api:read", "files:write"])
args = {"path": "note.txt", "content": "hi"}
print({capability: lab.execute(capability, args, token=job_token).status
       for capability in ("get_time", "write_file", "write_operation")})
challenge.check()
