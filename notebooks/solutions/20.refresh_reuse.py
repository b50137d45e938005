# A reference solution for challenge 20.refresh_reuse: the thief reuses a rotated refresh token; the client notices.
victim = McpClient(lab, client_name="victim client")
victim.authorize("api:read")
stolen = victim.refresh_token          # what a thief copies from the client's storage
victim.refresh()                       # rotation: the client now holds a new refresh token; the copy is stale
thief = httpx.post(lab.provider_url + "/token", data={
    "grant_type": "refresh_token", "refresh_token": stolen, "client_id": victim.client_id})
print("the thief's refresh:", thief.status_code, thief.json().get("error"))
try:
    victim.refresh()
except ClientError as refused:         # the family is gone: start over with the user
    print("the client's refresh:", refused.status, refused.error, "-> re-authorizing")
    victim.authorize("api:read")
print("tools/list with the new grant:", victim.list_tools().status)
challenge.check()
