"""HotRoutes answers a well-formed body itself and hands anything else, body intact, to the app inside it."""

import warnings

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse

from backend.errors import NotFound
from backend.hot_routes import HotAnswer, HotCall, HotRoutes

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


async def inner(scope, receive, send):
    """The declared routes' stand-in: echoes what reached it."""
    request = Request(scope, receive)
    response = JSONResponse({"inner": True, "path": scope["path"], "body": (await request.body()).decode()})
    await response(scope, receive, send)


@pytest.fixture
def seen():
    return []


@pytest.fixture
def client(seen):
    def handler(run_id, body):
        if body.get("refuse"):
            return None
        if body.get("missing"):

            def missing():
                raise NotFound(f"run {run_id} not found")

            return HotCall(missing)
        if "now" in body:  # answered on the event loop, or (None) left to the call in a thread
            return HotCall(lambda: HotAnswer({"by": "thread"}), lambda: HotAnswer({"by": "loop"}) if body["now"] else None)
        return HotCall(lambda: HotAnswer({"run_id": run_id, "got": body}, lambda: seen.append(run_id)))

    def created(run_id, body):
        return HotCall(lambda: HotAnswer({"run_id": run_id}, status=201))

    return TestClient(
        HotRoutes(
            inner,
            {
                r"/api/runs/(?P<run_id>[0-9]{1,10})/metrics": handler,
                r"/api/runs/(?P<run_id>[0-9]{1,10})/clone": created,
            },
        )
    )


def test_a_body_the_handler_takes_is_answered_without_the_app_and_its_after_work_runs(client, seen):
    response = client.post("/api/runs/7/metrics", json={"points": [1]})

    assert response.status_code == 200 and response.json() == {"run_id": 7, "got": {"points": [1]}}
    assert response.headers["content-type"] == "application/json"
    assert seen == [7]


@pytest.mark.parametrize(
    "body",
    [b'{"refuse": true}', b'{"points": [{"value": NaN}]}', b"not json"],
)
def test_a_body_it_does_not_take_reaches_the_app_intact(client, body):
    response = client.post("/api/runs/7/metrics", content=body, headers={"content-type": "application/json"})

    assert response.json() == {"inner": True, "path": "/api/runs/7/metrics", "body": body.decode()}


def test_the_answer_has_the_status_the_call_gives(client):
    response = client.post("/api/runs/7/clone", json={})

    assert response.status_code == 201 and response.json() == {"run_id": 7}


@pytest.mark.parametrize(("now", "by"), [(True, "loop"), (False, "thread")])
def test_a_call_done_at_once_on_the_loop_answers_else_its_thread_call_does(client, now, by):
    assert client.post("/api/runs/7/metrics", json={"now": now}).json() == {"by": by}


def test_api_errors_answer_as_the_app_would(client):
    response = client.post("/api/runs/7/metrics", json={"missing": True})

    assert response.status_code == 404 and response.json() == {"detail": "run 7 not found"}


@pytest.mark.parametrize(
    ("method", "path", "content_type"),
    [
        ("GET", "/api/runs/7/metrics", "application/json"),
        ("POST", "/api/runs/7/other", "application/json"),
        ("POST", "/api/runs/0/metrics", "application/json"),  # below the smallest id: the route's 422
        ("POST", "/api/runs/99999999999/metrics", "application/json"),
        ("POST", "/api/runs/7/metrics", "text/plain"),
        ("POST", "/api/runs/7/metrics?unknown=1", "application/json"),  # the routes' 422 for unknown parameters
    ],
)
def test_other_requests_go_to_the_app(client, method, path, content_type):
    response = client.request(method, path, content=b"{}", headers={"content-type": content_type})

    assert response.json()["inner"] is True



def test_every_hot_pattern_matches_a_declared_post_route():
    """A renamed prefix must not silently turn a fast path off: each pattern matches its declared route."""
    import re

    from backend import main

    app = main.create_app()
    (hot,) = [m for m in app.user_middleware if m.cls is HotRoutes]
    patterns = hot.kwargs["routes"]
    declared = {
        path.replace("{run_id}", "7"): operation["operationId"]
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
        if method == "post" and "{run_id}" in path
    }
    for pattern, handler in patterns.items():
        matched = [name for path, name in declared.items() if re.fullmatch(pattern, path)]
        # The fast handler is named after its route's handler (post_metrics -> post_metrics_fast).
        assert matched == [handler.__name__.removesuffix("_fast")], (pattern, matched)
