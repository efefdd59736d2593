"""GET /api/runs?filter=: every operator on SQLite and PostgreSQL, precedence, and malformed input as a 422."""

import pytest
from sqlalchemy import func, select

from backend.db import session_scope
from backend.runs.filter import FilterError, like_to_glob, parse
from backend.runs.models import Run
from tests.backend.helpers import errors_by_field, make_experiment, set_run

# name, state, dropout, best_val_accuracy, tags, notes: what each trained run is given.
TRAINED = [
    ("mlp l1 small", "completed", 0.0, 0.81, ["keep"], "baseline, as in the paper"),
    ("mlp L1 large", "completed", 0.3, 0.90, [], "Overfits after epoch 5"),
    ("mlp_l2", "failed", 0.5, None, ["keep", "odd"], ""),
    ("cnn 100%", "running", 0.5, 0.88, [], "50% of the data"),
]


@pytest.fixture
def runs(client):
    """Four trained runs with the values of TRAINED and one external run: ``{"trained": [...], "external": id, ...}``."""
    experiment = make_experiment(client, grid={"regularization.dropout": [0.0, 0.3, 0.5, 0.5001]})
    ids = [run["id"] for run in experiment["runs"]]
    rows = []
    for run_id, (name, state, dropout, accuracy, tags, notes) in zip(ids, TRAINED, strict=True):
        summary = {"best_val_accuracy": accuracy} if accuracy is not None else {}
        set_run(run_id, name=name, state=state, summary=summary, tags=tags, notes=notes)
        rows.append({"id": run_id, "name": name, "state": state, "dropout": dropout, "acc": accuracy, "tags": tags,
                     "notes": notes, "experiment_id": experiment["id"]})  # fmt: skip
    # The fourth grid value is 0.5001: the rows above say 0.5 for readability; the spec holds 0.5001.
    rows[3]["dropout"] = 0.5001
    body = {"experiment": "notebook", "name": "keras lr sweep", "params": {"lr": 0.1, "dropout": "high",
            "optimizer": {"name": "sgd"}, "regularization.kernel_l2": 0.01}, "tags": ["keep"]}  # fmt: skip
    external = client.post("/api/runs/external", json=body)
    assert external.status_code == 201, external.text
    return {"rows": rows, "external": external.json()["run_id"], "external_experiment": external.json()["experiment_id"]}


def matching(client, expression, **params):
    response = client.get("/api/runs", params={"filter": expression, "limit": 500, **params})
    assert response.status_code == 200, (expression, response.text)
    page = response.json()
    assert page["total"] == len(page["items"]) or "limit" in params
    return {item["id"] for item in page["items"]}


def test_every_operator_matches_what_the_runs_hold(client, runs):
    rows, external = runs["rows"], runs["external"]

    def where(predicate):
        return {row["id"] for row in rows if predicate(row)}

    cases = {
        "metrics.best_val_accuracy > 0.85": where(lambda r: r["acc"] is not None and r["acc"] > 0.85),
        "metrics.best_val_accuracy >= 0.88": where(lambda r: r["acc"] is not None and r["acc"] >= 0.88),
        "metrics.best_val_accuracy < 0.88": where(lambda r: r["acc"] is not None and r["acc"] < 0.88),
        "metrics.best_val_accuracy <= 0.88": where(lambda r: r["acc"] is not None and r["acc"] <= 0.88),
        "metrics.best_val_accuracy = 0.9": where(lambda r: r["acc"] == 0.9),
        "metrics.best_val_accuracy != 0.9": where(lambda r: r["acc"] is not None and r["acc"] != 0.9),
        "metrics.best_val_accuracy IN (0.81, 0.9)": where(lambda r: r["acc"] in (0.81, 0.9)),
        "metrics.best_val_accuracy NOT IN (0.81, 0.9)": where(lambda r: r["acc"] not in (None, 0.81, 0.9)),
        "params.regularization.dropout >= 0.3": where(lambda r: r["dropout"] >= 0.3),
        "params.regularization.dropout = 0": where(lambda r: r["dropout"] == 0),
        "state = 'completed'": where(lambda r: r["state"] == "completed"),
        "state != 'completed'": where(lambda r: r["state"] != "completed") | {external},
        "state IN ('failed', 'running')": where(lambda r: r["state"] in ("failed", "running")) | {external},
        "attributes.status NOT IN ('running')": where(lambda r: r["state"] != "running"),
        # LIKE is case-sensitive (as in MLflow) on both databases; ILIKE is not; \% is a literal %.
        "name LIKE '%l1%'": where(lambda r: "l1" in r["name"]),
        "name ILIKE '%l1%'": where(lambda r: "l1" in r["name"].lower()),
        "name LIKE 'mlp_l%'": where(lambda r: r["name"].startswith("mlp") and r["name"][4:5] == "l"),
        "name LIKE '%100\\%'": where(lambda r: r["name"].endswith("100%")),
        "name = 'mlp_l2'": where(lambda r: r["name"] == "mlp_l2"),
        "run_name IN ('mlp_l2', 'keras lr sweep')": where(lambda r: r["name"] == "mlp_l2") | {external},
        "notes CONTAINS 'epoch'": where(lambda r: "epoch" in r["notes"]),
        "notes LIKE '%50\\% of%'": where(lambda r: "50% of" in r["notes"]),
        "tags CONTAINS 'keep'": where(lambda r: "keep" in r["tags"]) | {external},
        "tags CONTAINS 'kee'": set(),
        f"experiment_id = {runs['external_experiment']}": {external},
        f"id IN ({rows[0]['id']}, {rows[2]['id']})": {rows[0]["id"], rows[2]["id"]},
        f"experiment_id != {runs['external_experiment']}": where(lambda r: True),
        # Free-form params of the external run: a number compares with numbers only, a string with strings.
        "params.lr > 0.01": {external},
        "params.dropout = 'high'": {external},
        "params.dropout > 0.4": set(),  # 'high' is no number, and trained runs have no top-level dropout
        "params.optimizer.name = 'sgd'": {external},
        "params.regularization.kernel_l2 = 0.01": {external},  # logged as one dotted key
        "params.regularization.kernel_l2 = 0": where(lambda r: True),
        "params.optimizer.name = 'nadam'": where(lambda r: True),
        "params.optimizer.name LIKE 'na%'": where(lambda r: True),
        "params.regularization.apply_to_output = false": where(lambda r: True),
    }
    for expression, expected in cases.items():
        assert matching(client, expression) == expected, expression


def test_and_binds_tighter_than_or_and_parentheses_regroup(client, runs):
    rows = runs["rows"]
    by_name = {row["name"]: row["id"] for row in rows}
    # a or b and c == a or (b and c)
    loose = matching(client, "state = 'failed' or state = 'completed' and metrics.best_val_accuracy > 0.85")
    assert loose == {by_name["mlp_l2"], by_name["mlp L1 large"]}
    grouped = matching(client, "(state = 'failed' or state = 'completed') and metrics.best_val_accuracy > 0.85")
    assert grouped == {by_name["mlp L1 large"]}
    # a and b or c == (a and b) or c
    assert matching(client, "state = 'completed' AND name LIKE '%small' OR tags CONTAINS 'odd'") == {
        by_name["mlp l1 small"], by_name["mlp_l2"]
    }


def test_the_filter_composes_with_the_other_parameters_sort_limit_and_offset(client, runs):
    rows = runs["rows"]
    expression = "metrics.best_val_accuracy > 0"  # three trained runs have one
    response = client.get("/api/runs", params={"filter": expression, "sort": "-best_val_accuracy", "limit": 2})
    page = response.json()
    by_accuracy = sorted((r for r in rows if r["acc"] is not None), key=lambda r: -r["acc"])
    assert page["total"] == 3 and [i["id"] for i in page["items"]] == [r["id"] for r in by_accuracy[:2]]
    second = client.get("/api/runs", params={"filter": expression, "sort": "-best_val_accuracy", "limit": 2, "offset": 2})
    assert [i["id"] for i in second.json()["items"]] == [by_accuracy[2]["id"]]
    assert matching(client, "tags CONTAINS 'keep'", state="failed") == {r["id"] for r in rows if r["state"] == "failed"}
    assert matching(client, "tags CONTAINS 'keep'", q="sweep") == {runs["external"]}


MALFORMED = {
    "metrics.best_val_accuracy >": "expected a value after '>', but the filter ends at position 27",
    "state = 'completed' and metrics.best_val_accuracy > ": "expected a value after '>'",
    "name = 'x'; DROP TABLE runs; --": "unexpected character ';' at position 10",
    "name = 'x' or 1=1": "expected '(' or a field after 'or', got '1' at position 14",
    "name = '' OR ''=''": "expected '(' or a field after 'OR', got \"''\" at position 13",
    "name = 'x') or (1": "got ')' at position 10",
    "state = 'completed' union select 1 from runs": "expected 'and' or 'or' or the end after \"'completed'\", got 'union'",
    "state = 'completed' union select * from runs": "unexpected character '*' at position 33",
    "name = \"x\" --": "unexpected character '-'",
    "metrics.best_val_accuracy > 'high'": "metrics.best_val_accuracy takes a number, got 'high' at position 28",
    "params.regularization.dropout = 'x'": "takes a number",
    "params.regularization = 1": "params.regularization is a section, not a single value",
    "params.regularization": "expected an operator after 'params.regularization', but the filter ends at position 21",
    "params.model.hidden_layers = 3": "a list",
    "state = 'done'": "state takes one of",
    "foo = 3": "unknown field 'foo'",
    "name > 'a'": "> does not apply to name",
    "tags = 'keep'": "= does not apply to tags (use CONTAINS)",
    "name LIKE 3": "LIKE needs a string",
    "experiment_id IN (1, 'a')": "mix types",
    "(" * 20 + "state = 'queued'" + ")" * 20: "nest deeper than 16",
    " or ".join(["state = 'queued'"] * 51): "at most 50",
    "params.lr < 'x'": "< compares numbers",
    "name = 'x'' or ''1''=''1'": "got \"' or '\" at position 10",
    "": "",
}


def test_malformed_filters_and_injections_are_a_422_on_filter_and_leave_the_table_intact(client, runs):
    with session_scope() as session:
        before = session.scalar(select(func.count()).select_from(Run))
    for expression, message in MALFORMED.items():
        errors = errors_by_field(client.get("/api/runs", params={"filter": expression}))
        assert list(errors) == ["filter"], expression
        assert message in errors["filter"], (expression, errors["filter"])
    too_long = "name = '" + "x" * 2000 + "'"
    assert "from 1 to 2000 characters" in errors_by_field(client.get("/api/runs", params={"filter": too_long}))["filter"]
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == before == 5
    # An escaped quote inside a value is data, not syntax.
    assert matching(client, "name = 'x\\' or \\'1\\'=\\'1'") == set()
    assert matching(client, "name = 'it\\'s' or name = \"mlp_l2\"") == {runs["rows"][2]["id"]}


def test_parse_reports_positions_and_keywords_in_any_case():
    with pytest.raises(FilterError) as caught:
        parse("state = 'completed' and metrics.best_val_accuracy >")
    assert caught.value.position == 51
    tree = parse("metrics.a > 1 AND metrics.b < 2 Or metrics.c = 3")
    assert tree.kind == "or" and tree.parts[0].kind == "and"
    assert parse("metrics.`val acc` >= 1e-3").values == (0.001,)


def test_like_patterns_become_globs_that_mean_the_same():
    assert like_to_glob("%l1_x%") == "*l1?x*"
    assert like_to_glob("a*b?[c]") == "a[*]b[?][[]c]"
    assert like_to_glob("100\\%\\_") == "100%_"
