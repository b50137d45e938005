# Auth0's block pins its issuer (with the trailing slash) and keeps this agent's audience
from labkit.provider import persona_oauth2

block = persona_oauth2("auth0", lab.provider_url, "api://oauth2-lab-agent")
print("issuer:", block["jwt_issuer"].replace(lab.provider_url, "{provider}"), "audience:", block["jwt_audience"])
lab.reload({"security": {"oauth2": block}})
challenge.check()
