"""PATCH /api/runs/{id} and PATCH /api/experiments/{id}: round trips, 422s, and notes found by the filter."""

from tests.backend.helpers import errors_by_field, make_experiment


def test_a_run_is_renamed_tagged_and_noted_and_the_filter_finds_its_notes(client):
    experiment = make_experiment(client, grid={"training.seed": [1, 2]})
    run_id, other = (run["id"] for run in experiment["runs"])
    notes = "<b>not bold</b>: overfits after epoch 5\nsecond line"
    response = client.patch(f"/api/runs/{run_id}", json={"name": "l1 best", "tags": ["keep", "keep", "paper"], "notes": notes})
    assert response.status_code == 200, response.text
    detail = response.json()
    assert (detail["name"], detail["tags"], detail["notes"]) == ("l1 best", ["keep", "paper"], notes)
    again = client.get(f"/api/runs/{run_id}").json()
    assert (again["name"], again["tags"], again["notes"]) == ("l1 best", ["keep", "paper"], notes)
    # Fields left out stay.
    assert client.patch(f"/api/runs/{run_id}", json={"notes": "short"}).json()["tags"] == ["keep", "paper"]
    assert client.get(f"/api/runs/{other}").json()["notes"] == ""
    found = client.get("/api/runs", params={"filter": "notes LIKE 'sho%' and tags CONTAINS 'paper'"}).json()["items"]
    assert [item["id"] for item in found] == [run_id]

    assert "notes" in errors_by_field(client.patch(f"/api/runs/{run_id}", json={"notes": "x" * 10_001}))
    assert "name" in errors_by_field(client.patch(f"/api/runs/{run_id}", json={"name": ""}))
    assert "tags.0" in errors_by_field(client.patch(f"/api/runs/{run_id}", json={"tags": ["t" * 65]}))
    assert "state" in errors_by_field(client.patch(f"/api/runs/{run_id}", json={"state": "completed"}))
    assert client.patch("/api/runs/999999", json={"name": "x"}).status_code == 404
    assert client.get(f"/api/runs/{run_id}").json()["notes"] == "short"


def test_a_study_is_renamed_described_and_retagged(client):
    experiment = make_experiment(client, name="first", tags=["old"])
    url = f"/api/experiments/{experiment['id']}"
    response = client.patch(url, json={"name": "second", "description": "why", "tags": ["new"]})
    assert response.status_code == 200, response.text
    body = client.get(url).json()
    assert (body["name"], body["description"], body["tags"]) == ("second", "why", ["new"])
    # The tag rows follow the tags: the study list's tag filter sees the change.
    assert [e["id"] for e in client.get("/api/experiments", params={"tag": "new"}).json()["items"]] == [experiment["id"]]
    assert client.get("/api/experiments", params={"tag": "old"}).json()["items"] == []
    assert "description" in errors_by_field(client.patch(url, json={"description": "x" * 10_001}))
    assert "base" in errors_by_field(client.patch(url, json={"base": {}}))
