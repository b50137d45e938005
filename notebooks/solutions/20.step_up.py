# A reference solution for challenge 20.step_up: start read-only, step up to what the 403 names, retry.
client = McpClient(lab, client_name="step-up client")
client.authorize("api:read")   # what tools/list needs, nothing more
note = {"path": "notes.txt", "content": "written after a step-up"}
answer = client.call_tool("write_file", note)
print("first call:", answer.status, answer.challenge.get("error"), "scope=" + str(answer.challenge.get("scope")))
if answer.status == 403 and answer.challenge.get("error") == "insufficient_scope":
    # SEP-2350: what the client held, plus what the challenge names (and not a scope more)
    wanted = " ".join(dict.fromkeys(client.scope.split() + answer.challenge["scope"].split()))
    print("re-authorized for:", client.authorize(wanted))
    answer = client.call_tool("write_file", note)
print("retry:", answer.status)
challenge.check()
