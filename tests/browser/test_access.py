"""The dashboard under its Content-Security-Policy, and signing in with a token against REGLAB_AUTH=all.

Every page must work with scripts from this origin only: a console CSP report
or a ``securitypolicyviolation`` event fails the test. The sign-in test also
serves a page from another port (another origin, but the same site, so the
SameSite=Strict cookie does travel) whose form posts to the API: the CSRF
check must refuse it while the dashboard's own writes go through.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from functools import partial

import httpx
import pytest

from tests.fixtures.services import free_port

pytestmark = pytest.mark.browser

TINY = {"dataset": {"name": "digits", "validation_samples": 300, "train_samples": 200}, "model": {"hidden_layers": [8]}, "training": {"epochs": 3}}
# Injected before any page script; CDP-injected, so the policy does not block it.
LISTEN_FOR_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


@pytest.fixture
def auth_mode() -> str:
    return "off"


@pytest.fixture
def server_env(auth_mode) -> dict[str, str]:
    return {"REGLAB_AUTH": auth_mode}


def create_study(base_url: str, name: str, headers: dict | None = None) -> dict:
    body = {"name": name, "base": TINY, "grid": {"regularization.dropout": [0.1, 0.3]}}
    response = httpx.post(f"{base_url}/api/experiments", json=body, headers=headers or {}, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def watch_csp(page) -> list[str]:
    reports: list[str] = []
    page.add_init_script(LISTEN_FOR_VIOLATIONS)
    page.on("console", lambda message: reports.append(message.text) if "Content Security Policy" in message.text else None)
    return reports


def test_every_page_works_under_the_csp(live_server, strict_page):
    page = strict_page
    study = create_study(live_server, "csp")
    first, second = (run["id"] for run in study["runs"])
    reports = watch_csp(page)
    pages = ["/", "/new", "/new?preset=dropout", f"/compare?run_ids={first},{second}",
             f"/compare?run_ids={first},{second}&group_by=auto", f"/runs/{first}", f"/experiments/{study['id']}", "/signin"]
    for path in pages:
        response = page.goto(live_server + path)
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_timeout(300)  # late reports (charts drawn after ready)
        violations = page.evaluate("window.__csp")
        assert not violations and not reports, f"{path}: {violations} {reports}"


@pytest.fixture
def other_origin(tmp_path) -> Iterator[str]:
    """Base URL of a plain HTTP server on another port, serving files from ``tmp_path / 'site'``."""
    root = tmp_path / "site"
    root.mkdir()
    port = free_port()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("auth_mode", ["all"])
def test_sign_in_with_a_token_and_refuse_a_cross_site_form_post(live_server, strict_page, tokens, other_origin, tmp_path):
    page = strict_page
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    study = create_study(live_server, "signed in", admin)
    target, other = (run["id"] for run in study["runs"])

    page.goto(f"{live_server}/?experiment_id={study['id']}")
    page.wait_for_url("**/signin?next=**")
    page.wait_for_selector("body[data-ready='1']")
    page.fill("#signin-token", "rl_wrong")
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#status[data-kind='error']")
    assert "invalid or revoked" in page.inner_text("#status")
    page.fill("#signin-token", tokens["write"])
    page.click("#signin-form button[type=submit]")
    page.wait_for_url(f"**/?experiment_id={study['id']}")
    page.wait_for_selector("body[data-ready='1']")
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert cookies["reglab_session"]["httpOnly"] and cookies["reglab_session"]["sameSite"] == "Strict"
    assert page.evaluate("document.cookie").count("reglab_session") == 0  # scripts cannot read the token

    # A page on another origin of the same site posts a form to the API: the browser sends the cookie...
    (tmp_path / "site" / "evil.html").write_text(
        f'<form method="post" action="{live_server}/api/runs/{target}/cancel"><button>win a prize</button></form>'
    )
    page.goto(f"{other_origin}/evil.html")
    with page.expect_response(f"{live_server}/api/runs/{target}/cancel") as posted:
        page.click("button")
    assert posted.value.status == 403
    run = httpx.get(f"{live_server}/api/runs/{target}", headers=admin, timeout=10).json()
    assert run["state"] == "queued"

    # ...while the dashboard's own writes, with its CSRF header, go through.
    page.goto(f"{live_server}/?experiment_id={study['id']}")
    page.wait_for_selector("body[data-ready='1']")
    page.locator(f"tr#run-{other}").get_by_role("button", name="Cancel").click()
    page.wait_for_selector(f"tr#run-{other}[data-state='cancelled']")
    assert httpx.get(f"{live_server}/api/runs/{other}", headers=admin, timeout=10).json()["state"] == "cancelled"

    # Signing out drops the cookie: the dashboard sends the browser back to /signin.
    page.goto(f"{live_server}/signin")
    page.wait_for_selector("body[data-ready='1']")
    page.click("#signout")
    page.wait_for_selector("#signout[hidden]", state="attached")
    page.goto(f"{live_server}/new")
    page.wait_for_url("**/signin?next=%2Fnew")
