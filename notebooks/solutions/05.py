# the narrowest rule: echo's own required_scopes, inside its plugin; get_time (same plugin) keeps its default
lab.reload({
    "security": {"oauth2": {"jwks_url": "${LAB_PROVIDER_URL}/jwks", "jwt_algorithms": ["RS256"],
                            "jwt_issuer": "${LAB_PROVIDER_URL}", "jwt_audience": "api://oauth2-lab-agent"},
                 "scope_hierarchy": {"api:write": ["api:read"]}},
    "plugins": [{"plugin_id": "system_tools", "plugin_type": "local",
                 "capabilities": [{"capability_id": "echo", "required_scopes": ["api:write"]}]}],
})
challenge.check()
