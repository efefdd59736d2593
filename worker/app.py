"""The Celery application of the training worker.

Start it with ``celery -A worker.app worker -Q <REGLAB_TRAIN_QUEUE>``. The
API sends ``reglab.train_run`` by name with only the run id, so it never
imports this package or TensorFlow.
"""

import os

from celery import Celery, signals

from reglab.settings import get_client_settings
from worker.warmup import warm_up

# TensorFlow takes a whole GPU at its first op unless told to grow its memory as
# needed; with growth, REGLAB_WORKER_CONCURRENCY runs can share one GPU. Set
# before TensorFlow loads (it loads inside the task, never at import).
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

# A 1000-epoch run on a large dataset can take hours; the hard limit only stops
# runaway tasks. The broker redelivers an unacknowledged task after the
# visibility timeout, so it must outlast the longest task (acks_late).
SOFT_TIME_LIMIT_S = 24 * 3600
TIME_LIMIT_S = SOFT_TIME_LIMIT_S + 300
VISIBILITY_TIMEOUT_S = TIME_LIMIT_S + 3600
# A prefork child counts as started once worker_process_init returns, and the
# warm-up loads TensorFlow there: give it longer than Celery's 4 s.
PROCESS_START_TIMEOUT_S = 300.0


def create_application() -> Celery:
    settings = get_client_settings()
    application = Celery("reglab", broker=settings.REDIS_URL, backend=settings.REDIS_URL, include=["worker.tasks"])
    application.conf.update(
        task_acks_late=True,
        # A worker killed mid-task (OOM, SIGKILL) puts the message back; the run's
        # state guard makes the redelivery restart or skip it safely.
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=settings.WORKER_CONCURRENCY,
        worker_proc_alive_timeout=PROCESS_START_TIMEOUT_S,
        task_default_queue=settings.TRAIN_QUEUE,
        task_routes={"reglab.train_run": {"queue": settings.TRAIN_QUEUE}},
        task_soft_time_limit=SOFT_TIME_LIMIT_S,
        task_time_limit=TIME_LIMIT_S,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        result_backend_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        result_expires=7 * 24 * 3600,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        broker_connection_retry_on_startup=True,
        worker_send_task_events=False,
    )
    return application


app = create_application()
# In the process that trains (solo: the worker itself; prefork: each child), before it takes a task.
signals.worker_process_init.connect(warm_up, weak=False)
