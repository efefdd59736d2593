"""Trainer endpoints: what a worker, the Keras callback or any script calls while it trains a run.

Each write names the attempt its claim returned and answers 409 once the run
is no longer that attempt's, exactly as the worker's transactions did when
it held the database (see :mod:`backend.trainer.service`).
"""

from __future__ import annotations

import errno
import logging
import os
from functools import partial
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import FileResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from backend.deps import RunId
from backend.errors import Conflict, InsufficientStorage, NotFound, error_responses
from backend.hot_routes import HotAnswer, HotCall
from backend.metrics.batch import KEYS, Batch, checked
from backend.timeutil import utcnow
from backend.storage import checkpoint_key, get_storage, latest_checkpoint, model_key
from backend.trainer import service
from backend.search.hooks import epoch_recorded, run_ended
from backend.trainer.schemas import (
    ERRORS, AttemptIn, AttemptQuery, ClaimIn, ClaimOut, EpochIn, EpochOut, EpochQuery, ExternalIn, ExternalOut,
    FinishIn, FinishOut, HeartbeatOut, OkOut, ProgressIn, UploadOut,
)  # fmt: skip

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/trainer/runs/{run_id}", tags=["trainer"])
external_router = APIRouter(prefix="/api/runs", tags=["trainer"])

# Model and checkpoint files may be far larger than the app's JSON body limit; they are streamed to disk.
MAX_UPLOAD_BYTES = 4 * 1024**3
UPLOAD_ERRORS = {**ERRORS, **error_responses(507)}
UPLOAD = {"requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}  # fmt: skip


@router.post("/claim", response_model=ClaimOut, responses=ERRORS)
def claim(run_id: RunId, body: ClaimIn) -> ClaimOut:
    """Start an attempt of the run; 409 if it is final or another live trainer holds it."""
    claimed = service.claim(run_id, body.worker_host)
    if claimed is None:
        raise Conflict(f"run {run_id} is not claimable: it is final, external, or alive on another worker")
    resume = service.resume_point(run_id)
    stop = service.cancel_request(run_id)
    return ClaimOut(
        run_id=run_id, attempt=claimed.attempt, restarted=claimed.restarted, spec=claimed.spec,
        epochs=claimed.epochs, resume=resume, stop=stop,
    )  # fmt: skip


@router.post("/heartbeat", response_model=HeartbeatOut, responses=ERRORS)
def heartbeat(run_id: RunId, body: AttemptIn) -> HeartbeatOut:
    """Keep the attempt alive; the answer carries the cancel flag."""
    request = service.heartbeat(run_id, body.attempt)
    return HeartbeatOut(run_id=run_id, attempt=body.attempt, cancel=request is not None, requeue=request == "requeue")


@router.post("/progress", response_model=OkOut, responses=ERRORS)
def progress(run_id: RunId, body: ProgressIn) -> OkOut:
    """Record the attempt's device, backend, planned epochs or current epoch."""
    values = body.model_dump(exclude={"attempt"}, exclude_none=True)
    if values:
        service.set_progress(run_id, body.attempt, **values)
    return OkOut(run_id=run_id)


def record(run_id: int, body: EpochIn, points: list[dict[str, Any]], batch: Batch | None = None) -> service.EpochRecorded:
    """Store an epoch's points with the body's attempt, progress and resume point (both epoch handlers)."""
    drop = (body.drop_from.epoch, body.drop_from.step) if body.drop_from is not None else None
    progress = body.progress.model_dump(exclude_none=True)
    return service.record_epoch(run_id, body.attempt, points, progress, drop_from=drop, batch=batch)


@router.post("/epoch", response_model=EpochOut, responses=ERRORS)
def epoch(run_id: RunId, body: EpochIn, background: BackgroundTasks) -> EpochOut:
    """Store one epoch's points with the progress (idempotent) and publish them live."""
    points = [p.model_dump() for p in body.points]
    recorded = record(run_id, body, points)
    if recorded.prunes:
        # After the answer: the pruner's check (~10 ms, bench/search_overhead.py) does not slow the worker's
        # epoch; a prune reaches it with its next heartbeat.
        background.add_task(epoch_recorded, run_id, points)
    return EpochOut(run_id=run_id, written=recorded.written)


def epoch_fast(run_id: int, body: Any) -> HotCall | None:
    """:func:`epoch` for backend/hot_routes.py: the blocking call storing a well-formed body, else None.

    The envelope (attempt, progress, drop_from) goes through EpochIn itself, the points
    through the bulk check; a body either refuses goes to :func:`epoch` for its 422.
    """
    if type(body) is not dict or "points" not in body:
        return None
    batch = checked(body["points"])
    if batch is None:
        return None
    try:
        envelope = EpochIn.model_validate({**body, "points": []})
    except ValidationError:
        return None
    points = body["points"]
    if not all(len(p) == len(KEYS) for p in points):  # live charts read every field of a point
        points = [{"axis": "epoch", "value": None, "t": None, **p} for p in points]

    def call() -> HotAnswer:
        recorded = record(run_id, envelope, points, batch)
        after = partial(epoch_recorded, run_id, points) if recorded.prunes else None
        return HotAnswer({"run_id": run_id, "written": recorded.written}, after)

    return HotCall(call)


@router.post("/finish", response_model=FinishOut, responses=ERRORS)
def finish(run_id: RunId, body: FinishIn, background: BackgroundTasks) -> FinishOut:
    """End the attempt in a final state, with its summary (completed from the stored points) and error."""
    values = body.model_dump(exclude={"attempt", "state"}, exclude_none=True)
    finished = service.finish(run_id, body.attempt, body.state, **values)
    # After the answer: telling the trial and asking the next (tens of ms) never delays the worker.
    background.add_task(run_ended, run_id)
    return FinishOut(**finished)


# Why a disk refuses a file for want of room (or of write access); any other OSError is a server fault.
NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


async def _store_upload(run_id: int, attempt: int, request: Request, key: str) -> int:
    # 404/409 before reading any byte.
    await run_in_threadpool(service.set_progress, run_id, attempt, heartbeat_at=utcnow())
    try:
        return await get_storage().put_stream(key, request.stream())
    except OSError as exc:
        if exc.errno not in NO_ROOM:
            raise
        log.error("run %s: %s not stored: %s", run_id, key, exc)
        # The points go to the database, not this disk: the trainer keeps training and reporting.
        raise InsufficientStorage(
            f"{key} not stored: the artifacts directory refused it ({os.strerror(exc.errno)}); free space under "
            "REGLAB_DATA_DIR. The run keeps training and its points are still stored, but its checkpoints and "
            "model are not saved until then."
        ) from None


@router.put("/model", response_model=UploadOut, responses=UPLOAD_ERRORS, openapi_extra=UPLOAD, max_body_size=MAX_UPLOAD_BYTES)
async def upload_model(run_id: RunId, attempt: AttemptQuery, request: Request) -> UploadOut:
    """The trained ``.keras`` file, streamed to the store; GET /api/runs/{id}/model serves it."""
    key = model_key(run_id)
    size = await _store_upload(run_id, attempt, request, key)
    await run_in_threadpool(service.set_progress, run_id, attempt, artifact_path=key)
    return UploadOut(run_id=run_id, key=key, size=size)


@router.put(
    "/checkpoint", response_model=UploadOut, responses=UPLOAD_ERRORS, openapi_extra=UPLOAD, max_body_size=MAX_UPLOAD_BYTES
)
async def upload_checkpoint(run_id: RunId, attempt: AttemptQuery, epoch: EpochQuery, request: Request) -> UploadOut:
    """A resume checkpoint after ``epoch`` complete epochs; it replaces the older ones."""
    key = checkpoint_key(run_id, epoch)
    size = await _store_upload(run_id, attempt, request, key)
    storage = get_storage()
    for older in list(storage.keys(f"run-{run_id}.checkpoint")):
        if older != key:
            storage.delete(older)
    return UploadOut(run_id=run_id, key=key, size=size, epoch=epoch)


@router.get(
    "/checkpoint",
    response_class=FileResponse,
    response_model=None,
    responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}, "description": "The checkpoint's .keras file; "
               "X-Checkpoint-Epoch says after how many epochs"}, **error_responses(404, 422)},  # fmt: skip
)
def download_checkpoint(run_id: RunId) -> FileResponse:
    """The run's latest resume checkpoint, so a resume works on any machine."""
    latest = latest_checkpoint(run_id)
    path = get_storage().path(latest[1]) if latest is not None else None
    if path is None:
        raise NotFound(f"run {run_id} has no checkpoint")
    return FileResponse(path, media_type="application/octet-stream", headers={"X-Checkpoint-Epoch": str(latest[0])})


@external_router.post("/external", status_code=201, response_model=ExternalOut, responses=error_responses(422))
def create_external(body: ExternalIn) -> ExternalOut:
    """A running external run (attempt 1) in the named experiment, created on first use.

    With ``source_key``, a run already created under that key is returned (``created`` false).
    """
    run, experiment, created = service.create_external(
        body.experiment, body.name, body.params, body.tags, body.epochs, body.worker_host, body.source, body.source_key
    )
    return ExternalOut(run_id=run.id, experiment_id=experiment.id, attempt=run.attempts, state=run.state, created=created)
