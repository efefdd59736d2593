"""The route → scope table on its own, for routes other branches add (claim, heartbeat, uploads, datasets)."""

import pytest

from backend.auth.scopes import allows, need_for

ROUTES = [
    # method, path template, scopes allowed (written out by hand)
    ("POST", "/api/runs/{run_id}/claim", {"worker", "write", "admin"}),
    ("POST", "/api/runs/{id}/heartbeat", {"worker", "write", "admin"}),
    ("POST", "/api/runs/{run_id}/finish", {"worker", "write", "admin"}),
    ("PUT", "/api/runs/{run_id}/checkpoint", {"worker", "write", "admin"}),
    ("GET", "/api/runs/{run_id}/checkpoint", {"worker", "read", "write", "admin"}),
    ("PUT", "/api/runs/{run_id}/model", {"worker", "write", "admin"}),
    ("GET", "/api/datasets/{dataset_id}/file", {"worker", "read", "write", "admin"}),
    ("HEAD", "/api/datasets/{dataset_id}/file", {"worker", "read", "write", "admin"}),
    ("POST", "/api/runs/external", {"write", "admin"}),
    ("POST", "/api/datasets", {"write", "admin"}),
    ("DELETE", "/api/datasets/{dataset_id}", {"write", "admin"}),
    ("GET", "/api/datasets", {"read", "write", "admin"}),
    ("GET", "/api/experiments/{experiment_id}/analysis", {"read", "write", "admin"}),
    ("GET", "/experiments/{experiment_id}", {"read", "write", "admin"}),
    ("PATCH", "/api/something/new", {"write", "admin"}),
    ("GET", "/static/js/api.js", {None, "read", "write", "worker", "admin"}),
]


@pytest.mark.parametrize(("method", "template", "allowed"), ROUTES)
def test_each_route_allows_exactly_its_scopes(method, template, allowed):
    need = need_for(method, template)
    assert {scope for scope in (None, "read", "write", "worker", "admin") if allows(need, scope)} == allowed
