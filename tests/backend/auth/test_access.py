"""REGLAB_AUTH against a real server: each mode, each scope's allowed and refused routes, errors, limits.

Ids in the routes below do not exist: the access check answers before the
route runs, so an allowed request gets the route's own 404/422 and a refused
one 401/403 whatever the data.
"""

import time

import httpx
import pytest

from reglab.cli.main import main

NONE = "no token"
EVERYONE = {NONE, "read", "write", "worker", "admin"}
# What each kind of route accepts under REGLAB_AUTH=all, written out by hand.
OPEN, READ, WRITE = EVERYONE, {"read", "write", "admin"}, {"write", "admin"}
WORKER_WRITE, WORKER_READ = {"worker", "write", "admin"}, {"worker", "read", "write", "admin"}

ROUTES = [
    ("GET", "/api/health", None, OPEN),
    ("GET", "/api/session", None, OPEN),
    ("GET", "/signin", None, OPEN),
    ("GET", "/static/css/reglab.css", None, OPEN),
    ("GET", "/", None, READ),
    ("GET", "/new", None, READ),
    ("GET", "/runs/999999", None, READ),
    ("GET", "/openapi.json", None, READ),
    ("GET", "/api/spec/schema", None, READ),
    ("POST", "/api/spec/validate", {}, READ),
    ("GET", "/api/experiments", None, READ),
    ("GET", "/api/experiments/999999", None, READ),
    ("GET", "/api/runs", None, READ),
    ("GET", "/api/runs/999999/summary", None, READ),
    ("GET", "/api/runs/999999/metrics", None, READ),
    ("GET", "/api/runs/999999/model", None, READ),
    ("GET", "/api/compare?run_ids=999999", None, READ),
    ("GET", "/api/runs/999999", None, WORKER_READ),
    ("POST", "/api/runs/999999/metrics", {"points": []}, WORKER_WRITE),
    ("POST", "/api/experiments", {}, WRITE),
    ("POST", "/api/runs/999999/cancel", None, WRITE),
    ("POST", "/api/runs/999999/clone", {}, WRITE),
    ("DELETE", "/api/runs/999999", None, WRITE),
    ("DELETE", "/api/experiments/999999", None, WRITE),
]


def expected_allowed(mode: str, method: str, allowed: set[str], who: str) -> bool:
    if mode == "off" or who in allowed:
        return True
    # REGLAB_AUTH=write opens every read (a POST that only validates counts as one).
    return mode == "write" and allowed in (READ, WORKER_READ)


def call(url: str, method: str, path: str, body, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.request(method, url + path, json=body, headers=headers, timeout=30, follow_redirects=False)


@pytest.mark.parametrize("auth_mode", ["off", "write", "all"])
def test_each_scope_reaches_only_its_routes(auth_mode, live_server, tokens):
    wrong = []
    for method, path, body, allowed in ROUTES:
        for who in sorted(EVERYONE):
            response = call(live_server, method, path, body, tokens.get(who))
            refused = response.status_code in (401, 403) or (
                response.status_code == 303 and response.headers["location"].startswith("/signin")
            )
            if refused == expected_allowed(auth_mode, method, allowed, who):
                wrong.append(f"{who}: {method} {path} -> {response.status_code}")
            elif refused and who == NONE and response.status_code != 303:
                assert response.status_code == 401, (method, path, response.text)
                assert response.headers["www-authenticate"].startswith("Bearer")
            elif refused:
                assert response.status_code == 403 or (who == NONE and response.status_code == 303)
    assert not wrong, f"REGLAB_AUTH={auth_mode}: " + "; ".join(wrong)


def test_refusals_are_json_details_without_traceback(live_server, tokens):
    missing = httpx.get(f"{live_server}/api/runs", timeout=10)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert list(missing.json()) == ["detail"] and "reglab token create" in missing.json()["detail"]
    wrong_scope = call(live_server, "DELETE", "/api/runs/1", None, tokens["worker"])
    assert wrong_scope.status_code == 403
    assert "scope" in wrong_scope.json()["detail"] and "Traceback" not in wrong_scope.text
    page = httpx.get(f"{live_server}/compare?run_ids=1,2", timeout=10)
    assert page.status_code == 303 and page.headers["location"] == "/signin?next=%2Fcompare%3Frun_ids%3D1%2C2"


@pytest.mark.parametrize("auth_env", [{"REGLAB_AUTH_CACHE_S": "1"}])
def test_a_revoked_token_is_refused(live_server, tokens, capsys):
    assert call(live_server, "GET", "/api/runs", None, tokens["read"]).status_code == 200
    assert main(["token", "revoke", "read token"]) == 0
    assert "revoked" in capsys.readouterr().out
    time.sleep(1.2)  # each API process trusts a checked token for REGLAB_AUTH_CACHE_S
    response = call(live_server, "GET", "/api/runs", None, tokens["read"])
    assert response.status_code == 401
    assert response.json() == {"detail": "the token is invalid or revoked"}
    # The other tokens are untouched.
    assert call(live_server, "GET", "/api/runs", None, tokens["write"]).status_code == 200


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("auth_env", [{"REGLAB_AUTH_FAILURES_PER_MINUTE": "3"}])
def test_auth_failures_are_rate_limited_per_address(live_server, tokens):
    for _ in range(3):
        assert call(live_server, "GET", "/api/runs", None, "rl_guess").status_code == 401
    blocked = call(live_server, "GET", "/api/runs", None, "rl_guess")
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    # While blocked, even a right token (a guess that finally hit) is not tried...
    assert call(live_server, "GET", "/api/runs", None, tokens["read"]).status_code == 429
    signin = httpx.post(f"{live_server}/api/session", json={"token": tokens["read"]}, timeout=10)
    assert signin.status_code == 429 and "retry-after" in signin.headers
    # ...but health and requests without a token are not failures and stay answered.
    assert httpx.get(f"{live_server}/api/health", timeout=10).status_code == 200
    assert call(live_server, "GET", "/api/runs", None, None).status_code == 401


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("auth_mode", ["off", "all"])
def test_every_response_carries_the_security_headers(live_server):
    for path in ("/", "/signin", "/api/health", "/api/runs", "/api/runs/999999", "/static/js/api.js", "/nowhere"):
        headers = httpx.get(live_server + path, timeout=10).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp, path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "same-origin", path
