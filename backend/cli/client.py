"""A small HTTP client for the RegLab REST API, used by the `reglab` CLI.

The CLI only ever talks to the API (never to the database), so the same
commands work against `reglab up` on this machine and against a remote
docker-compose deployment: point ``REGLAB_URL`` (or ``--url``) at it.
"""

from __future__ import annotations

from typing import Any

import httpx


class ApiError(Exception):
    """An error the CLI prints as one actionable line (no traceback)."""


class ApiClient:
    """Thin wrapper over httpx that turns transport and HTTP errors into ApiError.

    Args:
        base_url: where the API answers, e.g. ``http://127.0.0.1:8000``.
        timeout: seconds for connecting and for each response.
        token: an API token, sent as ``Authorization: Bearer <token>`` (needed when REGLAB_AUTH is not off).
    """

    def __init__(self, base_url: str, timeout: float = 30.0, token: str | None = None):
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, headers=headers)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            raise ApiError(
                f"cannot reach the RegLab API at {self.base_url} ({exc}). "
                "Start it with `reglab up` (or `make run`), or point REGLAB_URL / --url at a running deployment."
            ) from None
        except httpx.TimeoutException:
            raise ApiError(f"the RegLab API at {self.base_url} did not answer {method} {path} in time") from None
        except httpx.HTTPError as exc:
            raise ApiError(f"{method} {self.base_url}{path} failed: {exc}") from None
        if response.status_code >= 400:
            raise ApiError(_describe_error(method, path, response))
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                f"{method} {self.base_url}{path} answered {response.status_code} with something that is not JSON: "
                f"is REGLAB_URL pointing at a RegLab API?"
            ) from None

    def get(self, path: str, **params) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, json: Any = None) -> Any:
        return self.request("POST", path, json=json)

    # One method per endpoint the CLI uses, so commands read plainly.
    def health(self) -> dict[str, Any]:
        return self.get("/api/health")

    def create_experiment(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.post("/api/experiments", json=body)

    def list_runs(self, **filters) -> dict[str, Any]:
        return self.get("/api/runs", **filters)

    def all_runs(self, page_size: int = 200, **filters) -> list[dict[str, Any]]:
        """Every run matching ``filters``, following the API's paging."""
        items: list[dict[str, Any]] = []
        while True:
            page = self.list_runs(limit=page_size, offset=len(items), **filters)
            batch = page.get("items", [])
            items.extend(batch)
            if not batch or len(items) >= page.get("total", len(items)):
                return items

    def get_run(self, run_id: int) -> dict[str, Any]:
        return self.get(f"/api/runs/{run_id}")

    def cancel_run(self, run_id: int) -> dict[str, Any]:
        return self.post(f"/api/runs/{run_id}/cancel")

    def compare(self, run_ids: list[int], names: list[str] | None = None) -> dict[str, Any]:
        return self.get(
            "/api/compare",
            run_ids=",".join(str(i) for i in run_ids),
            names=",".join(names) if names else None,
        )


def _describe_error(method: str, path: str, response: httpx.Response) -> str:
    """The API's own explanation, flattened to lines a person can act on."""
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text.strip()[:500] or response.reason_phrase
    if isinstance(detail, list):
        # FastAPI/pydantic validation errors: one line per field, with its path.
        lines = []
        for item in detail:
            if isinstance(item, dict):
                # RegLab's errors carry a dotted "field"; FastAPI's default ones a "loc" list.
                where = item.get("field") or ".".join(str(part) for part in item.get("loc", []) if part != "body")
                lines.append(f"  {where or '(body)'}: {item.get('msg', item)}")
            else:
                lines.append(f"  {item}")
        detail = "\n" + "\n".join(lines)
    return f"{method} {path} -> {response.status_code}: {detail}"
