"""JupyterLab in a real browser: lesson 03 runs, its widgets render, the scope explorer responds, and its card's
Check says "not yet" after Run All and "solved" once the learner's own cell has done the work.

Needs Debian's Chromium (``apt-get install chromium``; ``.ci/run`` installs it) driven by Playwright with
``executable_path`` — no browser download. Skipped only when Chromium is absent and ``CI`` is unset.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers import ROOT, free_port, wait_until_ok

pytestmark = [pytest.mark.browser, pytest.mark.integration]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("Debian's chromium is not installed (apt-get install chromium); CI installs it",
                allow_module_level=True)


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    workdir = tmp_path_factory.mktemp("lab")
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy(notebook, workdir)  # the browser's saves never touch the committed notebooks
    port, token = free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", f"--ServerApp.token={token}",
               f"--notebook-dir={workdir}", "--LabApp.expose_app_in_browser=True", "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = (workdir / "jupyter.log").open("w")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"), "JUPYTER_CONFIG_DIR": str(workdir / "cfg")}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ok(f"{url}/api/status?token={token}", process, 90,
                      lambda: (workdir / "jupyter.log").read_text()[-2000:])
        yield url, token, workdir
    finally:
        process.send_signal(signal.SIGTERM)  # JupyterLab stops on SIGTERM without asking
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_scope_explorer_in_chromium(jupyter: tuple[str, str, Path], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    url, token, _ = jupyter
    assert CHROMIUM is not None, "CI must install Debian's chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
        ])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/lab/tree/03_scope_hierarchy.ipynb?token={token}", timeout=90_000)
            page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget", timeout=90_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            page.wait_for_function(
                "() => { const w = window.jupyterapp.shell.currentWidget;"
                " return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
                " && w.sessionContext.session.kernel.connectionStatus === 'connected'; }", timeout=90_000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            # every code cell gets an execution count when the run completes
            page.wait_for_function(
                "() => { const cells = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];"
                " return cells.length > 0 && cells.every(c => /\\[\\d+\\]/.test(c.textContent)); }", timeout=120_000)
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            assert "Traceback" not in page.inner_text(".jp-Notebook")
            assert errors.count() == 0 or all("Traceback" not in errors.nth(i).inner_text() for i in range(errors.count()))
            page.wait_for_selector(".widget-textarea textarea", timeout=60_000)
            picker = page.locator(".widget-select-multiple select").first
            assert picker.count() == 1
            graph = page.locator("svg.labkit-scope-graph").first
            graph.scroll_into_view_if_needed()
            before = graph.inner_html()
            picker.select_option(["admin"])
            page.get_by_role("button", name="Explore").click()
            page.wait_for_function(
                "(before) => { const svg = document.querySelector('svg.labkit-scope-graph');"
                " return svg && svg.innerHTML !== before; }", arg=before, timeout=30_000)
            after = page.locator("svg.labkit-scope-graph").first.inner_html()
            assert 'font-weight="bold">admin<' in after  # the newly granted scope is drawn bold
            # The lesson's challenge, through its card: Run All solved nothing (no solution ran), so Check says
            # "not yet"; the learner's own cell (the reference, typed into the your-turn cell) solves it.
            check = page.get_by_role("button", name="Check", exact=True)
            check.scroll_into_view_if_needed()
            check.click()
            page.wait_for_selector(".labkit-challenge-result", timeout=30_000)
            verdicts = page.locator(".labkit-challenge-result")
            assert verdicts.count() == 1 and verdicts.first.inner_text().startswith("not yet"), verdicts.first.inner_text()
            solution = (ROOT / "notebooks" / "solutions" / "03.py").read_text(encoding="utf-8")
            index = page.evaluate(
                "(source) => { const nb = window.jupyterapp.shell.currentWidget.content;"
                " const i = nb.widgets.findIndex(c => (c.model.getMetadata('tags') || []).includes('your-turn'));"
                " if (i >= 0) { nb.widgets[i].model.sharedModel.setSource(source); nb.activeCellIndex = i; }"
                " return i; }", solution)
            assert index >= 0, "lesson 03 has no your-turn cell"
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-cell')")
            page.wait_for_function(
                "(i) => { const c = window.jupyterapp.shell.currentWidget.content.widgets[i];"
                " return c.model.outputs.length > 0 && c.model.executionCount !== null"
                " && !c.node.querySelector('.jp-InputArea-prompt').textContent.includes('*'); }",
                arg=index, timeout=60_000)
            check.scroll_into_view_if_needed()
            check.click()
            page.wait_for_function(
                "() => [...document.querySelectorAll('.labkit-challenge-result')]"
                ".some(e => e.textContent.startsWith('solved:'))", timeout=30_000)
            check.scroll_into_view_if_needed()
            shot = tmp_path / "03_scope_hierarchy.png"
            page.screenshot(path=str(shot), full_page=False)
            assert shot.stat().st_size > 10_000
            artifacts = os.environ.get("LABKIT_ARTIFACTS")
            if artifacts:
                Path(artifacts).mkdir(parents=True, exist_ok=True)
                shutil.copy(shot, Path(artifacts) / shot.name)
        finally:
            browser.close()


def _receiver(seen: list[str]) -> object:
    """A client's redirect endpoint: records each query it receives and answers a small page."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def callback(request: Request) -> PlainTextResponse:
        seen.append(request.url.query)
        return PlainTextResponse("client received the authorization response")

    return Starlette(routes=[Route("/callback", callback)])


def test_the_consent_page_in_chromium(tmp_path: Path) -> None:
    # lesson 19: a user reads the consent page (name, redirect host, scopes), clicks Approve and lands on the
    # client's redirect URI with a code that redeems; clicking Deny lands there with access_denied
    import base64
    import hashlib
    from urllib.parse import parse_qs, urlencode

    import httpx
    from playwright.sync_api import sync_playwright

    from labkit.provider import MockProvider
    from labkit.provider.models import Client
    from labkit.servers import ServerThread

    assert CHROMIUM is not None, "CI must install Debian's chromium"
    seen: list[str] = []
    provider = MockProvider(tenants=())
    with ServerThread(provider.app, name="provider") as server, ServerThread(_receiver(seen), name="client") as rp:
        provider.base_url = server.url
        redirect = f"{rp.url}/callback"
        provider.register_client(Client("notes-app", None, grant_types=("authorization_code",),
                                        scopes=("api:read", "files:write"), redirect_uris=(redirect,),
                                        name="Notes <b>App</b>"))
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = {"response_type": "code", "client_id": "notes-app", "redirect_uri": redirect,
                 "scope": "api:read files:write", "state": "st-1", "code_challenge": challenge,
                 "code_challenge_method": "S256", "prompt": "consent"}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
            try:
                page = browser.new_page(viewport={"width": 900, "height": 900})
                page.goto(f"{server.url}/authorize?{urlencode(query)}")
                assert page.locator("h1").inner_text().startswith("Notes <b>App</b>")  # the name, as text
                assert page.locator(".redirect b").inner_text() == rp.url  # the redirect host, highlighted
                assert "Create, change and delete your files" in page.inner_text("ul")
                page.screenshot(path=str(tmp_path / "consent.png"))
                page.click("button.approve")
                page.wait_for_url(f"{redirect}?*")
                answer = parse_qs(seen[-1])
                assert answer["state"] == ["st-1"] and answer["iss"] == [server.url]
                token = httpx.post(f"{server.url}/token", data={
                    "grant_type": "authorization_code", "code": answer["code"][0], "redirect_uri": redirect,
                    "client_id": "notes-app", "code_verifier": verifier})
                assert token.status_code == 200 and token.json()["scope"] == "api:read files:write"

                page.goto(f"{server.url}/authorize?{urlencode({**query, 'state': 'st-2'})}")
                page.click("button:has-text('Deny')")
                page.wait_for_url(f"{redirect}?*")
                denied = parse_qs(seen[-1])
                assert denied["error"] == ["access_denied"] and denied["state"] == ["st-2"] and "code" not in denied
            finally:
                browser.close()
