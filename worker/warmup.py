"""Load Keras and its backend in each process that trains, before it takes its first run.

Importing TensorFlow and finding its devices takes seconds (8 s on a busy
2-core machine), more than a small run's first epoch. Done per training
process as it starts (Celery's ``worker_process_init``: the solo pool's main
process, or each prefork child after the fork, never the prefork parent), the
first run of a study starts training as soon as it is claimed instead.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


def warm_up(**_signal_kwargs) -> None:
    """Import the training code and probe the device; a failure is logged, and the first run loads it again."""
    started = time.perf_counter()
    try:
        from worker.training import environment, trainer  # noqa: F401  (keras and the backend load here)

        device = environment.device_name()
    except Exception:  # the run will load it again and fail with a message a person can act on
        log.exception("loading the training code ahead of the first run failed")
        return
    log.info("training code loaded in %.1f s (%s on %s)", time.perf_counter() - started, environment.backend_name(), device)
