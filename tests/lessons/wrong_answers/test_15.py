"""Challenge 15's wrong answers (insecure near-misses first): each refused, and the refusal says why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.challenges import start
from labkit.lab import Lab, LabClock
from labkit.lab.capstone import WEAK_CONFIG

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
FIXED = (ROOT / "tests" / "lessons" / "capstone" / "fixed.yml").read_text()

# (name, the fixed file with one edit (old, new), words the refusal must carry: the security reason)
NEAR_MISSES = [
    ("admin keeps the wildcard", ('admin: ["api:admin"]', 'admin: ["*"]'), "least privilege, RFC 9700 §2.3"),
    ("introspection cached 300 s", ("introspection_cache_ttl: 0", "introspection_cache_ttl: 300"),
     "a stolen token stays usable after you revoked it (RFC 7662 §4)"),
    ("rate limit 60 a minute", ("requests_per_minute: 5", "requests_per_minute: 60"), "OWASP API4:2023"),
    ("no narrowing downstream", ('        scope: "api:write"\n', ""), "RFC 8693 §2.1 scope"),
]
# Near-misses the grader's fixed probes did not see (each solved the capstone): secure for the tokens it tried only.
UNPROBED = [
    ("Keycloak's issuer beside the lab's",
     ('jwt_issuer: "${LAB_PROVIDER_URL}"', 'jwt_issuer: ["${LAB_PROVIDER_URL}", "${LAB_PROVIDER_URL}/realms/lab"]'),
     "RFC 8725 §3.8"),
    ("an audience list naming another service",
     ('jwt_audience: "api://oauth2-lab-agent"', 'jwt_audience: ["api://oauth2-lab-agent", "api://billing"]'),
     "RFC 8725 §3.9"),
    ("the wildcard moved to api:read", ("api:read: []", 'api:read: ["*"]'), "least privilege, RFC 9700 §2.3"),
    ("the wildcard moved to push:read", ("push:read: []", 'push:read: ["*"]'), "least privilege, RFC 9700 §2.3"),
    ("files:write given to api:admin", ('api:admin: ["api:write", "api:read"]',
                                        'api:admin: ["api:write", "api:read", "files:write"]'),
     "least privilege, RFC 9700 §2.3"),
    ("a leeway of 80 s", ("leeway: 0", "leeway: 80"), "RFC 7519 §4.1.4"),
]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(clock=LabClock(), downstream=True) as running:
        yield running


def check_edited(lab: Lab, tmp_path: Path, edit: tuple[str, str]) -> Any:
    """Challenge 15's verdict on the fixed file with one edit (``old`` replaced by ``new``)."""
    old, new = edit
    assert old in FIXED
    path = tmp_path / "agentup.yml"
    path.write_text(FIXED.replace(old, new))
    return start("15", lab, progress=tmp_path / "p.json").check(path=path)


@pytest.mark.parametrize(("name", "edit", "reason"), NEAR_MISSES, ids=[n for n, _, _ in NEAR_MISSES])
def test_a_near_miss_is_refused_for_its_reason(name: str, edit: tuple[str, str], reason: str, lab: Lab,
                                               tmp_path: Path) -> None:
    result = check_edited(lab, tmp_path, edit)
    assert not result and "7 of 8 weaknesses fixed" in result.message and reason in result.message


@pytest.mark.parametrize(("name", "edit", "reason"), UNPROBED, ids=[n for n, _, _ in UNPROBED])
def test_secure_for_the_probed_tokens_only_is_refused(name: str, edit: tuple[str, str], reason: str, lab: Lab,
                                                     tmp_path: Path) -> None:
    result = check_edited(lab, tmp_path, edit)
    assert not result and reason in result.message, result.message


@pytest.mark.parametrize(("answer", "reason"), [
    ({}, "pass your configuration file"),
    ({"path": "no-such-file.yml"}, "no file at no-such-file.yml"),
    ({"path": "BROKEN"}, "the agent refused the configuration"),
])
def test_no_file_or_a_broken_one_is_refused_and_the_agent_keeps_its_config(answer: dict[str, str], reason: str,
                                                                          lab: Lab, tmp_path: Path) -> None:
    if answer.get("path") == "BROKEN":
        broken = tmp_path / "broken.yml"
        broken.write_text(WEAK_CONFIG.read_text().replace("leeway: 300", "leeway: 3000"))  # above the 300 s cap
        answer = {"path": str(broken)}
    before = lab.config
    result = start("15", lab, progress=tmp_path / "p.json").check(**answer)
    assert not result and reason in result.message
    assert lab.config is before


def test_the_reference_solution_solves(lab: Lab, tmp_path: Path) -> None:
    my_config = tmp_path / "my_agentup.yml"
    my_config.write_text(WEAK_CONFIG.read_text())
    namespace = {"lab": lab, "my_config": my_config, "challenge": start("15", lab, progress=tmp_path / "p.json")}
    source = (ROOT / "notebooks" / "solutions" / "15.py").read_text()
    *body, last = source.rstrip().splitlines()
    exec(compile("\n".join(body), "15.py", "exec"), namespace)  # noqa: S102 - the lesson's own reference
    result = eval(compile(last, "15.py", "eval"), namespace)  # noqa: S307 - its last line: the check call
    assert result, result.message
