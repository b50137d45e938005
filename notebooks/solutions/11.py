# Reference solution of challenge 11: name the attack from the incident log, then contain it in the lab.
import dataclasses
import secrets

import pandas as pd

log = pd.read_json(INCIDENT_LOG, lines=True)
broad = log[log.scopes.map(len) == log.scopes.map(len).max()]  # the token holding every scope report-bot may ask
answer["client_id"] = broad.client.iloc[0]
answer["fingerprint"] = broad.fingerprint.iloc[0]
answer["first_seen"] = broad.time.min()  # its first request (allowed), not its first refusal
answer["endpoints"] = sorted(broad.method.unique())  # allowed and refused: what it reached, and what it tried

store = lab.provider.server().store
with store.lock:  # RFC 7009: revoke what the leaked secret obtained (every report-bot token)
    for record in store.tokens.values():
        if record.client_id == answer["client_id"]:
            record.revoked = True
client = store.clients[answer["client_id"]]  # then rotate the credential, or the attacker mints new tokens
lab.provider.register_client(dataclasses.replace(client, client_secret=secrets.token_urlsafe(32)))
challenge.check(**answer)
