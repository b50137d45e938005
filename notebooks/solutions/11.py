# Reference solution of challenge 11: read the incident log, name the attack, then contain it in the lab.
import dataclasses
import secrets

import pandas as pd

log = pd.read_json(INCIDENT_LOG, lines=True)
attacker = log[log.scopes.map(len) == log.scopes.map(len).max()]  # the token with every scope report-bot may ask
fingerprint = attacker.fingerprint.iloc[0]
first_seen = attacker.time.min()
endpoints = sorted(attacker.method.unique())

store = lab.provider.server().store
with store.lock:  # RFC 7009: revoke what the leaked secret obtained (every report-bot token)
    for record in store.tokens.values():
        if record.client_id == "report-bot":
            record.revoked = True
client = store.clients["report-bot"]  # then rotate the credential, or the attacker mints new tokens
lab.provider.register_client(dataclasses.replace(client, client_secret=secrets.token_urlsafe(32)))
challenge.check(client_id="report-bot", fingerprint=fingerprint, first_seen=first_seen, endpoints=endpoints)
