import secrets
import uuid

# A shared secret from a CSPRNG: the receiver checks it, the agent sends it with every delivery.
my_secret = secrets.token_urlsafe(24)
lab.webhooks.expect_token("challenge", my_secret)
# message/send needs api:read; registering a webhook needs push:write (which implies push:read): nothing more.
subscriber = lab.token(["api:read", "push:write"])
params = {"message": {"role": "user", "messageId": str(uuid.uuid4()), "parts": [{"kind": "text", "text": "notify me"}]},
          "configuration": {"pushNotificationConfig": {"url": lab.webhooks.url("challenge"), "token": my_secret}}}
print("message/send:", lab.call("message/send", params, token=subscriber).status)
challenge.check()
