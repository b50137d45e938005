# A reference solution for challenge 14: a key of your own, a bound token, a proof for the MCP request, a thief.
import httpx
from joserfc.jwk import ECKey

from labkit.auth.dpop import make_proof

my_key = ECKey.generate_key("P-256")   # its private half never leaves this kernel
token_endpoint = f"{lab.provider_url}/token"
my_token = httpx.post(token_endpoint, data={"grant_type": "client_credentials", "scope": "api:write"},
                      auth=("lab-client", "lab-client-secret"),
                      headers={"DPoP": make_proof(my_key, method="POST", url=token_endpoint, iat=clock())}
                      ).json()["access_token"]
mcp_url, tool = lab.agent_url + "/mcp", {"name": "write_operation", "arguments": {"text": "bound"}}
mine = lab.call("tools/call", tool, path="/mcp", headers={
    "Authorization": f"DPoP {my_token}",
    "DPoP": make_proof(my_key, method="POST", url=mcp_url, iat=clock(), access_token=my_token)})
stolen = lab.call("tools/call", tool, path="/mcp", headers={"Authorization": f"Bearer {my_token}"})
print("with my proof:", mine.status, "· the thief, as Bearer:", stolen.status, stolen.reason)
challenge.check()
