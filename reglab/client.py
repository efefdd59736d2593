"""An HTTP client of the RegLab API, and the run-scoped client a trainer uses.

:class:`Client` sends ``Authorization: Bearer <token>`` (the ``token``
argument, else ``REGLAB_TOKEN``) and retries, with exponential backoff,
what may succeed later: connection errors, timeouts, 429 and 5xx answers.
Every write it retries is idempotent on the server (points are upserted by
run, name, axis and x), so a retry never duplicates anything.

:class:`RunClient` does one run's traffic: claim, heartbeat (which carries
the cancel flag back), progress, epochs, checkpoints, the model file and the
outcome. Epochs and checkpoint uploads go through a background sender, in
order, so training never waits for the network: while the API is
unreachable they are buffered in memory (bounded, logged) and flushed, in
order, once it answers again.

Example::

    from reglab.client import Client

    run = Client("http://127.0.0.1:8000").create_run("my CNN", "dropout 0.3", params={"dropout": 0.3})
    run.record_epoch([{"name": "val_accuracy", "axis": "epoch", "x": 0, "value": 0.91}], {"epoch": 1})
    run.finish("completed")
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

if TYPE_CHECKING:
    import pandas as pd

    from reglab.frames import Analysis, RunList

log = logging.getLogger("reglab.client")

DEFAULT_URL = "http://127.0.0.1:8000"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Points per request: the API takes up to 100,000; smaller requests keep each transaction short.
CHUNK_POINTS = 20_000


class ApiError(Exception):
    """The API refused a request; ``status`` is its HTTP status (0: it never answered).

    :meth:`Client.request` also records the request (``method``, ``path``) and
    the API's ``url``, so a message can say which call failed where.
    """

    def __init__(self, status: int, detail: Any):
        super().__init__(f"HTTP {status}: {detail}" if status else str(detail))
        self.status = status
        self.detail = detail
        self.method: str | None = None
        self.path: str | None = None
        self.url: str | None = None

    def _at(self, method: str, path: str, url: str) -> "ApiError":
        self.method, self.path, self.url = method, path, url
        return self


class Unreachable(ApiError):
    """No answer (connection refused, timeout) or a server error after every retry."""


class ClaimLost(ApiError):
    """409: the run is no longer this attempt's to train (taken over, finished, not claimable)."""


class NotFound(ApiError):
    """404: no such run (deleted while it trained, say)."""


def _detail(response: httpx.Response) -> Any:
    """RegLab's ``{"detail": ...}``; anything else (a proxy's error page, another service) as sent."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        return body["detail"]
    return response.text.strip()[:500] or response.reason_phrase


class Client:
    """The RegLab REST API at ``url`` (default ``REGLAB_URL``, else http://127.0.0.1:8000).

    Args:
        url: the API's base URL.
        token: sent as ``Authorization: Bearer``; default ``REGLAB_TOKEN`` (none if unset).
        timeout: seconds per request.
        retries: retries of a failed request (connection error, 429, 5xx) before giving up.
        backoff_s: first wait between retries; doubled each time (with jitter), at most 10 s.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        timeout: float = 10.0,
        retries: int = 4,
        backoff_s: float = 0.25,
    ):
        self.url = (url or os.environ.get("REGLAB_URL") or DEFAULT_URL).rstrip("/")
        token = token if token is not None else os.environ.get("REGLAB_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.retries = retries
        self.backoff_s = backoff_s
        # A proxy from the environment must never carry the traffic of an API on this machine.
        local = urlsplit(self.url).hostname in ("127.0.0.1", "localhost", "::1")
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, trust_env=not local)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def request(self, method: str, path: str, *, retries: int | None = None, **kwargs: Any) -> httpx.Response:
        """Send a request, retrying what may succeed later; raises :class:`ApiError` subclasses."""
        retries = self.retries if retries is None else retries
        delay = self.backoff_s
        for attempt in range(retries + 1):
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as error:
                failure: ApiError = Unreachable(0, f"{self.url} unreachable: {type(error).__name__}: {error}")
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in RETRY_STATUSES:
                    raise _error(response)._at(method, path, self.url)
                failure = Unreachable(response.status_code, _detail(response))
            if attempt == retries:
                raise failure._at(method, path, self.url)
            time.sleep(min(10.0, delay) * (0.5 + random.random()))  # noqa: S311 - jitter, not security
            delay *= 2
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The decoded answer (None for an empty one, e.g. 204)."""
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError(response.status_code, "the answer is not JSON: is this URL a RegLab API?")._at(
                method, path, self.url
            ) from None

    @contextlib.contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[Iterator[bytes]]:
        """The body of a large answer, chunk by chunk (e.g. an export); not retried, errors as :class:`ApiError`."""
        try:
            with self.http.stream(method, path, **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error(response)._at(method, path, self.url)
                yield response.iter_bytes()
        except httpx.TransportError as error:
            raise Unreachable(0, f"{type(error).__name__}: {error}")._at(method, path, self.url) from None

    def runs(
        self, experiment_id: int | None = None, filter: str | None = None,  # noqa: A002 - the API's name
        state: str | None = None, limit: int | None = None,
    ) -> "RunList":
        """The runs matching (``filter`` in the run filter language), newest first: a list with ``.to_pandas()``."""
        from reglab.frames import list_runs

        return list_runs(self, experiment_id=experiment_id, filter=filter, state=state, limit=limit)

    def series(self, run_ids: "Iterable[int] | int", names: list[str] | str | None = None) -> "pd.DataFrame":
        """Every stored point of the runs, never downsampled: a long frame ``run_id, metric, axis, x, value, t``."""
        from reglab.frames import read_series

        return read_series(self, run_ids, names)

    def analysis(self, experiment_id: int, metric: str | None = None, baseline: str | None = None) -> "Analysis":
        """A study's analysis (as GET /api/experiments/{id}/analysis answers), a dict with ``.groups_frame()``."""
        from reglab.frames import read_analysis

        return read_analysis(self, experiment_id, metric=metric, baseline=baseline)

    def run(self, run_id: int, attempt: int | None = None, **options: Any) -> "RunClient":
        """A :class:`RunClient` of an existing run (``attempt``: a claim already made)."""
        return RunClient(self, run_id, attempt=attempt, **options)

    def create_run(
        self,
        experiment: str,
        name: str,
        params: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        epochs: int = 0,
        source: str = "api",
        source_key: str | None = None,
        worker_host: str | None = None,
        **options: Any,
    ) -> "RunClient":
        """An external run in ``experiment`` (created on first use), running as attempt 1."""
        body = {"experiment": experiment, "name": name, "params": params or {}, "tags": tags or [],
                "epochs": epochs, "source": source, "source_key": source_key, "worker_host": worker_host}  # fmt: skip
        created = self.json("POST", "/api/runs/external", json=body)
        run = RunClient(self, created["run_id"], attempt=created["attempt"], **options)
        run.created = created["created"]
        run.experiment_id = created["experiment_id"]
        return run


def _error(response: httpx.Response) -> ApiError:
    detail = _detail(response)
    if response.status_code == 409:
        return ClaimLost(409, detail)
    if response.status_code == 404:
        return NotFound(404, detail)
    return ApiError(response.status_code, detail)


@dataclasses.dataclass(frozen=True)
class ClaimInfo:
    """What a claim returns: the attempt, the spec, and where a resume continues."""

    attempt: int
    spec: dict[str, Any]
    epochs: int
    restarted: bool
    resume: dict[str, Any] | None
    stop: str | None


@dataclasses.dataclass
class _Job:
    kind: str  # "epoch", "layers" or "checkpoint"
    body: dict[str, Any] = dataclasses.field(default_factory=dict)
    path: Path | None = None
    epoch: int = 0
    points: int = 0


class RunClient:
    """One run's traffic. Epochs and checkpoints are sent in order by a background thread.

    Args:
        client: the :class:`Client`.
        run_id: the run.
        attempt: the attempt number of a claim already made (``create_run`` sets it).
        max_buffered_points: points held in memory while the API is unreachable; past it
            the oldest buffered epoch is dropped, with an error in the log.
        retry_s: longest wait between two tries of the sender while the API is away.
    """

    def __init__(
        self,
        client: Client,
        run_id: int,
        attempt: int | None = None,
        max_buffered_points: int = 500_000,
        retry_s: float = 2.0,
    ):
        self.client = client
        self.run_id = int(run_id)
        self.attempt = attempt
        self.max_buffered_points = max_buffered_points
        self.retry_s = retry_s
        self.created = False
        self.experiment_id: int | None = None
        self.cancel = threading.Event()  # a stop was requested (heartbeat answer)
        self.requeue = False  # ... as a pause: the server keeps the checkpoint
        self.lost = threading.Event()  # the run is no longer this attempt's
        self.on_lost: list[Callable[[], None]] = []
        self._jobs: collections.deque[_Job] = collections.deque()
        self._buffered_points = 0
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._offline_since: float | None = None
        self._sender: threading.Thread | None = None
        self.dropped_points = 0

    @property
    def path(self) -> str:
        return f"/api/trainer/runs/{self.run_id}"

    # -- claim and the synchronous calls ------------------------------------------------

    def claim(self, worker_host: str) -> ClaimInfo | None:
        """Start an attempt; None if the run is not ours to train (final, held by a live worker, gone)."""
        try:
            data = self.client.json("POST", f"{self.path}/claim", json={"worker_host": worker_host})
        except (ClaimLost, NotFound):
            return None
        self.attempt = data["attempt"]
        if data.get("stop"):
            self._stop_requested(data["stop"] == "requeue")
        return ClaimInfo(data["attempt"], data["spec"], data["epochs"], data["restarted"], data["resume"], data["stop"])

    def _stop_requested(self, requeue: bool) -> None:
        self.requeue = requeue
        self.cancel.set()

    def _lose(self) -> None:
        if self.lost.is_set():
            return
        log.warning("run %s: no longer attempt %s's to train; stopping it", self.run_id, self.attempt)
        self.lost.set()
        self.cancel.set()
        for callback in self.on_lost:
            callback()

    def heartbeat(self) -> bool:
        """Keep the attempt alive; returns the cancel flag. One try: the next beat is the retry."""
        try:
            data = self.client.json("POST", f"{self.path}/heartbeat", json={"attempt": self.attempt}, retries=0)
        except (ClaimLost, NotFound):
            self._lose()
            return True
        if data["cancel"]:
            self._stop_requested(data["requeue"])
        return bool(data["cancel"])

    def set_progress(self, **values: Any) -> None:
        """Device, backend, planned epochs... (retried; ClaimLost if the attempt was lost)."""
        self.client.json("POST", f"{self.path}/progress", json={"attempt": self.attempt, **values})

    def upload_model(self, path: str | Path) -> dict[str, Any]:
        """Upload the trained ``.keras`` file (after the buffered epochs); GET /api/runs/{id}/model serves it."""
        self.flush()
        return self._put("model", Path(path), {"attempt": self.attempt})

    def _put(self, what: str, path: Path, params: dict[str, Any], retries: int | None = None) -> dict[str, Any]:
        def body():
            with open(path, "rb") as file:
                while chunk := file.read(1 << 20):
                    yield chunk

        # A generator body is not replayable: each try opens the file again.
        last: ApiError | None = None
        for _ in range(2 if retries is None else 1):
            try:
                return self.client.json(
                    "PUT", f"{self.path}/{what}", params=params, content=body(),
                    headers={"content-type": "application/octet-stream"}, retries=retries,
                )  # fmt: skip
            except Unreachable as error:
                last = error
        raise last  # type: ignore[misc]

    def load_checkpoint(self, directory: str | Path) -> tuple[int, Path] | None:
        """Download the run's latest checkpoint into ``directory``: (complete epochs, file), or None."""
        try:
            with self.client.http.stream("GET", f"{self.path}/checkpoint") as response:
                if response.status_code == 404:
                    return None
                if response.status_code >= 400:
                    response.read()
                    raise _error(response)
                epoch = int(response.headers["x-checkpoint-epoch"])
                target = Path(directory) / f"run-{self.run_id}.checkpoint-e{epoch}.keras"
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "wb") as file:
                    for chunk in response.iter_bytes(1 << 20):
                        file.write(chunk)
        except httpx.TransportError as error:
            raise Unreachable(0, f"checkpoint download failed: {error}") from error
        return epoch, target

    def finish(
        self,
        state: str,
        summary: dict[str, Any] | None = None,
        error: str | None = None,
        model_summary: dict[str, Any] | None = None,
        flush_timeout_s: float | None = 300.0,
    ) -> dict[str, Any] | None:
        """Send what is buffered, then end the attempt; None if it was no longer ours (outcome dropped)."""
        self.flush(flush_timeout_s)
        self.close()
        if self.lost.is_set():
            return None
        body = {"attempt": self.attempt, "state": state, "summary": summary or {}, "error": error,
                "model_summary": model_summary}  # fmt: skip
        try:
            # The API may be away for a while (a restart): retry for about a minute.
            return self.client.json("POST", f"{self.path}/finish", json=body, retries=8)
        except (ClaimLost, NotFound):
            self._lose()
            return None

    # -- the background sender ----------------------------------------------------------

    def record_epoch(
        self,
        points: list[dict[str, Any]],
        progress: dict[str, Any] | None = None,
        drop_from: tuple[int, int | None] | None = None,
    ) -> None:
        """Queue one epoch's points and progress; returns at once (the sender posts them, in order).

        ``drop_from=(epoch, step)`` makes the server drop what an interrupted
        attempt stored from there on (the first write of a resumed attempt).
        """
        if self.lost.is_set():
            return
        chunks = [points[i : i + CHUNK_POINTS] for i in range(0, len(points), CHUNK_POINTS)] or [[]]
        for index, chunk in enumerate(chunks):
            body: dict[str, Any] = {"attempt": self.attempt, "points": chunk}
            if index == len(chunks) - 1 and progress:
                body["progress"] = progress
            if index == 0 and drop_from is not None:
                body["drop_from"] = {"epoch": drop_from[0], "step": drop_from[1]}
            self._enqueue(_Job("epoch", body=body, points=len(chunk)))

    def record_layers(self, snapshot: dict[str, Any], layers: list[dict[str, Any]] | None = None) -> None:
        """Queue one per-layer snapshot (:mod:`reglab.layer_stats`), with the layer descriptions the first time."""
        if self.lost.is_set():
            return
        body: dict[str, Any] = {"attempt": self.attempt, "snapshots": [snapshot]}
        if layers is not None:
            body["layers"] = layers
        self._enqueue(_Job("layers", body=body))

    def save_checkpoint(self, path: str | Path, epoch: int) -> None:
        """Queue the upload of a checkpoint file (deleted once sent or superseded by a newer one)."""
        self._enqueue(_Job("checkpoint", path=Path(path), epoch=epoch))

    def _enqueue(self, job: _Job) -> None:
        with self._cond:
            self._jobs.append(job)
            self._buffered_points += job.points
            while self._buffered_points > self.max_buffered_points and len(self._jobs) > 1:
                dropped = self._jobs.popleft()
                self._buffered_points -= dropped.points
                self.dropped_points += dropped.points
                log.error(
                    "run %s: the API has been unreachable too long; more than %d points buffered, "
                    "dropping %d of the oldest", self.run_id, self.max_buffered_points, dropped.points,
                )  # fmt: skip
                _discard(dropped)
            if self._sender is None:
                self._sender = threading.Thread(target=self._send_loop, name=f"reglab-send-{self.run_id}", daemon=True)
                self._sender.start()
            self._cond.notify_all()

    def _send_loop(self) -> None:
        delay = 0.2
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if not self._jobs:
                    return
                job = self._jobs[0]
                self._busy = True
            try:
                self._send(job)
            except Unreachable as error:
                with self._cond:
                    self._busy = False
                    if self._offline_since is None:
                        self._offline_since = time.monotonic()
                        log.warning(
                            "run %s: API unreachable (%s); buffering epochs in memory (%d points so far) "
                            "and retrying; training goes on", self.run_id, error, self._buffered_points,
                        )  # fmt: skip
                    self._cond.wait(delay)  # woken early by close() only to give up faster
                    delay = min(self.retry_s, delay * 2)
                continue
            except (ClaimLost, NotFound):
                with self._cond:
                    for dropped in self._jobs:
                        _discard(dropped)
                    self._jobs.clear()
                    self._buffered_points = 0
                    self._busy = False
                    self._cond.notify_all()
                self._lose()
                continue
            except ApiError as error:  # refused for good (422...): retrying cannot help
                log.error("run %s: the API refused a %s write: %s", self.run_id, job.kind, error)
            except OSError as error:
                log.error("run %s: could not read %s: %s", self.run_id, job.path, error)
            delay = 0.2
            with self._cond:
                if self._jobs and self._jobs[0] is job:
                    self._jobs.popleft()
                    self._buffered_points -= job.points
                self._busy = False
                if self._offline_since is not None:
                    log.warning(
                        "run %s: API answers again after %.0f s; sending the buffered epochs in order",
                        self.run_id, time.monotonic() - self._offline_since,
                    )  # fmt: skip
                    self._offline_since = None
                self._cond.notify_all()

    def _send(self, job: _Job) -> None:
        if job.kind == "epoch":
            self.client.json("POST", f"{self.path}/epoch", json=job.body, retries=0)
            return
        if job.kind == "layers":
            self.client.json("POST", f"/api/runs/{self.run_id}/layers", json=job.body, retries=0)
            return
        with self._cond:
            superseded = any(other.kind == "checkpoint" for other in list(self._jobs)[1:])
        if not superseded and job.path is not None:
            self._put("checkpoint", job.path, {"attempt": self.attempt, "epoch": job.epoch}, retries=0)
        _discard(job)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued is sent (or dropped); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._jobs and not self.lost.is_set():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    log.error("run %s: %d buffered writes not sent within %s s", self.run_id, len(self._jobs), timeout)
                    return False
                self._cond.wait(remaining if remaining is not None else 1.0)
        return True

    @property
    def buffered(self) -> int:
        """Epoch writes and uploads not yet accepted by the API."""
        with self._cond:
            return len(self._jobs)

    def close(self) -> None:
        """Stop the sender once its queue is empty (what is left is dropped)."""
        with self._cond:
            self._closed = True
            if self._jobs:
                log.error("run %s: %d writes never reached the API", self.run_id, len(self._jobs))
                for job in self._jobs:
                    _discard(job)
                self._jobs.clear()
            self._cond.notify_all()
        if self._sender is not None and self._sender is not threading.current_thread():
            self._sender.join(5)


def _discard(job: _Job) -> None:
    if job.kind == "checkpoint" and job.path is not None:
        job.path.unlink(missing_ok=True)


class Heartbeat:
    """A daemon thread that beats every ``interval_s`` and sets ``run.cancel`` when asked to stop.

    It also keeps the run alive through long epochs, data loading and
    evaluation, so the API's reaper only ever reaps dead trainers. A failed
    beat is logged and the next one is the retry: the run stays ``running``
    while beats resume within the API's heartbeat timeout.
    """

    def __init__(self, run: RunClient, interval_s: float = 1.0):
        self.run = run
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"reglab-heartbeat-{run.run_id}", daemon=True)
        self._failing = False

    def start(self) -> "Heartbeat":
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run.heartbeat()
                if self._failing:
                    log.warning("run %s: heartbeats reach the API again", self.run.run_id)
                self._failing = False
            except ApiError as error:
                if not self._failing:
                    log.warning("run %s: heartbeat failed (%s); retrying every %s s", self.run.run_id, error,
                                self.interval_s)  # fmt: skip
                self._failing = True
            if self.run.lost.is_set():
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
