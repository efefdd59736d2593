"""The OpenAPI document describes what the server really answers: bodies, errors, methods."""

import pytest

from tests.backend.helpers import errors_by_field, make_experiment

JSON = "application/json"


@pytest.fixture
def document(client):
    return client.get("/openapi.json").json()


def operations(document):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_operation_describes_its_success_body(document):
    for path, method, operation in operations(document):
        success = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
        assert success, (method, path)
        for code, response in success.items():
            if code == "204":
                assert "content" not in response, (method, path)
                continue
            assert response["content"], (method, path)
            # An export offers several formats: every one is described.
            for media, content in response["content"].items():
                schema = content["schema"]
                if media == JSON:
                    # A named model (or a typed mapping), never FastAPI's empty "any".
                    assert "$ref" in schema or schema.get("additionalProperties") or schema.get("type") == "object", (
                        method,
                        path,
                        schema,
                    )
                else:
                    assert media in (
                        "application/octet-stream", "text/event-stream", "text/csv", "application/vnd.apache.arrow.stream",
                        "text/html",  # the study report
                    ), (method, path)


def test_errors_are_documented_with_reglab_bodies(document):
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert set(schemas["FieldError"]["required"]) == {"field", "msg", "type"}
    for path, method, operation in operations(document):
        for code, response in operation["responses"].items():
            if not code.startswith(("4", "5")):
                continue
            ref = response["content"][JSON]["schema"]["$ref"]
            expected = "ValidationErrorBody" if code == "422" else "ErrorBody"
            assert ref == f"#/components/schemas/{expected}", (method, path, code)
        if "requestBody" in operation:
            assert {"400", "422"} <= set(operation["responses"]), (method, path)
    assert "404" in document["paths"]["/api/runs/{run_id}"]["get"]["responses"]
    assert "409" in document["paths"]["/api/runs/{run_id}/cancel"]["post"]["responses"]


def test_bodies_that_are_not_json(client, document):
    # Bytes that are not UTF-8: FastAPI's 400, now documented on every route with a body.
    response = client.post("/api/spec/validate", content=b"\xff\xfe{", headers={"content-type": JSON})
    assert response.status_code == 400 and isinstance(response.json()["detail"], str)
    assert "400" in document["paths"]["/api/spec/validate"]["post"]["responses"]
    # Text that is not JSON: a 422 on the body, not on a "field" named after the character position.
    response = client.post("/api/spec/validate", content=b"{bad json", headers={"content-type": JSON})
    assert errors_by_field(response)["body"].startswith("is not valid JSON")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        *(
            (method, path, allowed)
            for method in ("PATCH", "PUT")
            for path, allowed in [
                ("/api/experiments", "GET, POST"),
                ("/api/runs/1/metrics", "GET, POST"),
                # Its own resource, though /api/experiments/{experiment_id} reads like it.
                ("/api/experiments/plan", "POST"),
                ("/api/runs/clone", "POST"),
            ]
        ),
        ("PUT", "/api/experiments/1", "DELETE, GET, PATCH"),
        ("PUT", "/api/runs/1", "DELETE, GET, PATCH"),
    ],
)
def test_405_lists_every_method_of_the_path(client, path, allowed, method):
    # Starlette named only the first route matching the path (GET /api/runs/{id}, not DELETE).
    response = client.request(method, path)

    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert isinstance(response.json()["detail"], str)


def test_unknown_query_parameters_are_refused(client):
    errors = errors_by_field(client.get("/api/runs", params={"stat": "running"}))

    assert "is not a query parameter of this route" in errors["stat"] and "state" in errors["stat"]


def test_partial_spec_schema_refuses_unknown_fields_as_the_server_does(client, document):
    schemas = document["components"]["schemas"]
    body = document["paths"]["/api/spec/validate"]["post"]["requestBody"]["content"][JSON]["schema"]
    assert body["allOf"] == [{"$ref": "#/components/schemas/PartialRunSpec"}]
    assert schemas["PartialRunSpec"]["additionalProperties"] is False
    assert schemas["PartialRunSpec.TrainingSpec"]["additionalProperties"] is False

    assert errors_by_field(client.post("/api/spec/validate", json={"training": {"epoch": 3}}))["training.epoch"]


@pytest.mark.parametrize(
    ("partial", "field"),
    [
        ({"evaluation": {"mc_samples": False}}, "evaluation.mc_samples"),
        ({"training": {"epochs": "5"}}, "training.epochs"),
        ({"model": {"input_batch_norm": 1}}, "model.input_batch_norm"),
        ({"regularization": {"dropout": "0.1"}}, "regularization.dropout"),
        ({"spec_version": True}, "spec_version"),
    ],
)
def test_spec_values_must_have_their_json_type(client, partial, field):
    # pydantic's lax mode read these as numbers or booleans; the published schema refuses them.
    assert field in errors_by_field(client.post("/api/spec/validate", json=partial))


def test_an_integral_float_is_an_integer_as_json_schema_says(client):
    response = client.post("/api/spec/validate", json={"training": {"epochs": 3.0}})

    assert response.status_code == 200 and response.json()["spec"]["training"]["epochs"] == 3


def test_points_must_have_their_json_type(client):
    run_id = make_experiment(client)["runs"][0]["id"]

    response = client.post(f"/api/runs/{run_id}/metrics", json={"points": [{"name": "loss", "x": 0, "t": False}]})

    assert "points.0.t" in errors_by_field(response)


def test_get_on_the_batch_clone_is_405_not_a_bad_run_id(client):
    for method in ("GET", "DELETE"):
        response = client.request(method, "/api/runs/clone")
        assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_get_on_the_plan_is_405_not_a_bad_experiment_id(client):
    response = client.get("/api/experiments/plan")

    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert "experiment_id" in errors_by_field(client.get("/api/experiments/abc"))


def test_links_lead_from_an_experiment_to_its_runs_and_metrics(document):
    ids = {operation["operationId"] for _, _, operation in operations(document)}
    created = document["paths"]["/api/experiments"]["post"]["responses"]["201"]["links"]
    run = document["paths"]["/api/runs/{run_id}"]["get"]["responses"]["200"]["links"]

    assert created["GetFirstRun"] == {"operationId": "get_run", "parameters": {"run_id": "$response.body#/runs/0/id"}}
    assert run["GetRunMetrics"]["operationId"] == "get_metrics"
    # Every link names an operation that exists.
    for _, _, operation in operations(document):
        for response in operation["responses"].values():
            assert {link["operationId"] for link in response.get("links", {}).values()} <= ids
