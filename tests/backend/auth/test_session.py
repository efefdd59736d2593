"""The browser session over HTTP: the cookie's attributes, CSRF on cookie writes, none on bearer writes."""

import contextlib
from collections.abc import Iterator

import httpx
import pytest

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@contextlib.contextmanager
def signed_in(url: str, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as client:
        response = client.post("/api/session", json={"token": token})
        assert response.status_code == 200, response.text
        assert response.json() == {"auth": "all", "signed_in": True, "name": "write token", "scope": "write"}
        yield client


def test_sign_in_sets_a_strict_httponly_cookie_and_a_readable_csrf_cookie(live_server, tokens):
    response = httpx.post(f"{live_server}/api/session", json={"token": tokens["write"]}, timeout=10)
    cookies = {c.split("=", 1)[0]: c.lower() for c in response.headers.get_list("set-cookie")}
    assert "httponly" in cookies["reglab_session"] and "samesite=strict" in cookies["reglab_session"]
    assert "path=/" in cookies["reglab_session"] and "secure" not in cookies["reglab_session"]  # plain http here
    assert "httponly" not in cookies["reglab_csrf"] and "samesite=strict" in cookies["reglab_csrf"]
    bad = httpx.post(f"{live_server}/api/session", json={"token": "rl_nope"}, timeout=10)
    assert bad.status_code == 401 and "set-cookie" not in bad.headers


def test_cookie_writes_need_the_csrf_header_and_this_origin(live_server, tokens):
    with signed_in(live_server, tokens["write"]) as client:
        assert client.get("/api/runs").status_code == 200
        assert client.get("/", follow_redirects=False).status_code == 200
        csrf = client.cookies["reglab_csrf"]
        no_header = client.post("/api/runs/999999/cancel", headers={"Origin": live_server})
        assert no_header.status_code == 403 and "CSRF" in no_header.json()["detail"]
        wrong = client.post("/api/runs/999999/cancel", headers={"Origin": live_server, "X-CSRF-Token": csrf + "x"})
        assert wrong.status_code == 403
        no_origin = client.post("/api/runs/999999/cancel", headers={"X-CSRF-Token": csrf})
        assert no_origin.status_code == 403
        other_site = client.post("/api/runs/999999/cancel", headers={"Origin": "http://127.0.0.1:1", "X-CSRF-Token": csrf})
        assert other_site.status_code == 403 and "cross-site" in other_site.json()["detail"]
        good = client.post("/api/runs/999999/cancel", headers={"Origin": live_server, "X-CSRF-Token": csrf})
        assert good.status_code == 404  # past the access check: the run does not exist
        by_referer = client.post("/api/runs/999999/cancel", headers={"Referer": live_server + "/", "X-CSRF-Token": csrf})
        assert by_referer.status_code == 404
        signed_out = client.delete("/api/session", headers={"Origin": live_server})
        assert signed_out.status_code == 204
        assert client.get("/api/runs").status_code == 401


def test_bearer_writes_need_no_csrf_token(live_server, tokens):
    response = httpx.post(
        f"{live_server}/api/runs/999999/cancel", headers={"Authorization": f"Bearer {tokens['write']}"}, timeout=10
    )
    assert response.status_code == 404


@pytest.mark.parametrize("auth_mode", ["off"])
def test_cross_site_writes_are_refused_even_with_auth_off(live_server):
    response = httpx.post(f"{live_server}/api/runs/999999/cancel", headers={"Origin": "http://evil.example"}, timeout=10)
    assert response.status_code == 403
    assert httpx.post(f"{live_server}/api/runs/999999/cancel", timeout=10).status_code == 404
