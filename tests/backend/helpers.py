"""Small factories for the API tests."""

from typing import Any

from sqlalchemy import update

from backend.db import session_scope
from backend.runs.models import Run


def make_experiment(client, name: str = "study", **body: Any) -> dict[str, Any]:
    """POST an experiment and return its JSON (asserting 201)."""
    response = client.post("/api/experiments", json={"name": name, **body})
    assert response.status_code == 201, response.text
    return response.json()


def set_run(run_id: int, **values: Any) -> None:
    """Change a run row as a worker would."""
    with session_scope() as session:
        session.execute(update(Run).where(Run.id == run_id).values(**values))


def errors_by_field(response) -> dict[str, str]:
    """``{field: msg}`` of a 422 response."""
    assert response.status_code == 422, response.text
    return {error["field"]: error["msg"] for error in response.json()["detail"]}
