"""A small HTTP client for the RegLab REST API, used by the `reglab` CLI.

The CLI only ever talks to the API (never to the database), so the same
commands work against `reglab up` on this machine and against a remote
docker-compose deployment: point ``REGLAB_URL`` (or ``--url``) at it.
"""

from __future__ import annotations

from typing import Any, BinaryIO

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
            batch = page["items"]
            items.extend(batch)
            if not batch or len(items) >= page["total"]:
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


    def compare_csv(self, run_ids: list[int], names: list[str] | None, handle: BinaryIO) -> int:
        """Write GET /api/compare/csv (every point, never downsampled) to ``handle``; returns its data rows."""
        lines = self._stream_to("/api/compare/csv", self._export_params(run_ids, names), handle)
        return max(lines - 1, 0)

    def compare_arrow(self, run_ids: list[int], names: list[str] | None, handle: BinaryIO) -> None:
        """Write GET /api/compare/export?format=arrow (every point as an Arrow IPC stream) to ``handle``."""
        self._stream_to("/api/compare/export", {**self._export_params(run_ids, names), "format": "arrow"}, handle)

    @staticmethod
    def _export_params(run_ids: list[int], names: list[str] | None) -> dict[str, str]:
        params = {"run_ids": ",".join(str(i) for i in run_ids)}
        if names:
            params["names"] = ",".join(names)
        return params

    def _stream_to(self, path: str, params: dict[str, str], handle: BinaryIO) -> int:
        """Copy a streamed body into ``handle`` chunk by chunk; returns its newline bytes."""
        lines = 0
        try:
            with self._http.stream("GET", path, params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ApiError(_describe_error("GET", path, response))
                for chunk in response.iter_bytes():
                    handle.write(chunk)
                    lines += chunk.count(b"\n")
        except httpx.ConnectError as exc:
            raise ApiError(f"cannot reach the RegLab API at {self.base_url} ({exc})") from None
        except httpx.HTTPError as exc:
            raise ApiError(f"GET {self.base_url}{path} failed: {exc}") from None
        return lines


def _describe_error(method: str, path: str, response: httpx.Response) -> str:
    """The API's own explanation, flattened to lines a person can act on."""
    try:
        body = response.json()
    except ValueError:
        body = None
    # Anything but RegLab's {"detail": ...} (a proxy's error page, another service) is shown as sent.
    detail = body["detail"] if isinstance(body, dict) and "detail" in body else response.text.strip()[:500]
    detail = detail or response.reason_phrase
    if response.status_code == 422 and isinstance(detail, list):
        # A 422: one line per field, with its dotted path (backend.errors.ValidationErrorBody).
        detail = "\n" + "\n".join(f"  {item['field']}: {item['msg']}" for item in detail)
    return f"{method} {path} -> {response.status_code}: {detail}"
