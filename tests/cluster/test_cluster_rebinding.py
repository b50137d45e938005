"""The cluster's front refuses DNS rebinding: nginx answers 421 to a Host it does not serve, the replicas check the
port and the Origin of what nginx forwards (``labkit.hosts``), and each replica refuses a foreign Host directly."""

from __future__ import annotations

import os

import httpx
import pytest

from labkit.cluster import Cluster, missing_services

pytestmark = pytest.mark.integration

LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def test_nginx_and_the_replicas_refuse_a_foreign_host_or_origin() -> None:
    missing = missing_services(shared=False)
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the replica tests: {missing}")
        pytest.skip(missing)
    with Cluster(2, shared=False, in_process=True) as cluster, httpx.Client(timeout=30) as http:
        front = cluster.agent_url
        port = httpx.URL(front).port
        card = "/.well-known/agent-card.json"
        for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
            answer = http.get(front + card, headers={"Host": host})
            assert answer.status_code == 200 and "x-upstream" in answer.headers, host
        # a name nginx does not serve: its default server answers, no replica is asked
        for host in ("attacker.example", f"attacker.example:{port}", f"127.0.0.1.attacker.example:{port}"):
            answer = http.get(front + card, headers={"Host": host})
            assert answer.status_code == 421 and "x-upstream" not in answer.headers, host
        # a name nginx serves with another port or spelling: forwarded as sent, the replica refuses it
        for host in (f"127.0.0.1:{port + 1}", f"localhost.:{port}", "127.0.0.1"):
            answer = http.get(front + card, headers={"Host": host})
            assert answer.status_code == 421 and "x-upstream" in answer.headers, host
        token = cluster.token(["api:read"])
        mcp = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
        refused = http.post(front + "/mcp", json=LIST, headers={**mcp, "Origin": "http://attacker.example"})
        assert refused.status_code == 403
        assert http.post(front + "/mcp", json=LIST, headers={**mcp, "Origin": front}).status_code == 200
        for replica in cluster.replicas:
            assert http.get(replica.url + card, headers={"Host": "attacker.example"}).status_code == 421
            assert http.get(replica.url + card).status_code == 200
