# Reference solution of challenge 15: fix every weakness in your copy of the weak agentup.yml, then check it.
# (`my_config` is the copy the lesson made in your workspace; `challenge` is start("15", lab).)
import yaml

config = yaml.safe_load(my_config.read_text())
oauth2 = config["security"]["oauth2"]
oauth2["jwt_audience"] = "api://oauth2-lab-agent"  # RFC 8725 §3.9: only tokens minted for this agent
oauth2["jwt_issuer"] = "${LAB_PROVIDER_URL}"       # RFC 8725 §3.8: only the lab provider's tokens
oauth2["leeway"] = 0                               # RFC 7519 §4.1.4: expired means expired
oauth2["introspection_cache_ttl"] = 0              # RFC 7662 §4: a revoked token is refused at once
config["security"]["scope_hierarchy"]["admin"] = ["api:admin"]  # what admin implies, not "*"
for plugin in config["plugins"]:
    if plugin["plugin_id"] == "external_api":
        plugin["middleware"] = [{"name": "timed"}, {"name": "rate_limited", "params": {"requests_per_minute": 5}}]
        plugin["delegation"]["downstream"]["scope"] = "api:write"  # RFC 8693 §2.1: the least the tool needs
my_config.write_text(yaml.safe_dump(config, sort_keys=False))
challenge.check(path=my_config)
