"""Who may call what: token scopes and the one table mapping routes to the access they need.

A route's need is looked up by method and path template (``/api/runs/{}`` with
every path parameter written ``{}``, so a parameter's name does not matter).
Routes not in the table get the default for their method: reads need ``read``,
writes (POST, PUT, PATCH, DELETE) need ``write``. ``REGLAB_AUTH=write`` opens
what needs ``read``; ``all`` opens only what the table marks ``OPEN``. A new route is therefore
closed to workers and to read-only tokens until the table says otherwise.
"""

from __future__ import annotations

import re
from enum import Enum

READ, WRITE, ADMIN, WORKER = "read", "write", "admin", "worker"
SCOPES = (READ, WRITE, WORKER, ADMIN)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Need(Enum):
    """What a route needs, as the set of token scopes that satisfy it."""

    # Literal names: inside this class READ, WRITE, ... are the members being defined.
    OPEN = frozenset()  # no token, whatever the mode
    READ = frozenset({"read", "write", "admin"})
    WRITE = frozenset({"write", "admin"})
    ADMIN = frozenset({"admin"})
    # A trainer's traffic for a run: a worker token, or a person's write token (the Keras callback).
    WORKER_WRITE = frozenset({"worker", "write", "admin"})
    # What a worker downloads (a run's spec, its checkpoint, a dataset) besides readers.
    WORKER_READ = frozenset({"worker", "read", "write", "admin"})

RUN = "/api/runs/{}"
POLICY: dict[tuple[str, str], Need] = {
    ("GET", "/api/health"): Need.OPEN,
    # Signing in and out is how a browser gets and drops its cookie.
    ("GET", "/api/session"): Need.OPEN,
    ("POST", "/api/session"): Need.OPEN,
    ("DELETE", "/api/session"): Need.OPEN,
    ("GET", "/signin"): Need.OPEN,
    # A POST only because a spec is a body; it changes nothing.
    ("POST", "/api/spec/validate"): Need.READ,
    # The trainer endpoints: claim, heartbeat (carrying the cancel flag back), points, files, finish.
    ("GET", RUN): Need.WORKER_READ,
    ("POST", RUN + "/claim"): Need.WORKER_WRITE,
    ("POST", RUN + "/heartbeat"): Need.WORKER_WRITE,
    ("POST", RUN + "/metrics"): Need.WORKER_WRITE,
    ("POST", RUN + "/layers"): Need.WORKER_WRITE,
    ("POST", RUN + "/progress"): Need.WORKER_WRITE,
    ("POST", RUN + "/finish"): Need.WORKER_WRITE,
    ("PUT", RUN + "/checkpoint"): Need.WORKER_WRITE,
    ("POST", RUN + "/checkpoint"): Need.WORKER_WRITE,
    ("GET", RUN + "/checkpoint"): Need.WORKER_READ,
    ("PUT", RUN + "/model"): Need.WORKER_WRITE,
    ("POST", RUN + "/model"): Need.WORKER_WRITE,
    ("GET", "/api/datasets/{}/file"): Need.WORKER_READ,
    # An external run (the Keras callback) is a person's submission: a write token, not a worker's.
    ("POST", "/api/runs/external"): Need.WRITE,
}
# Static files (JavaScript, CSS, the vendored Plotly) hold no data; the sign-in page needs them.
OPEN_PREFIXES = ("/static/",)
PARAM = re.compile(r"\{[^}]*\}")


def template_key(path: str) -> str:
    """``/api/runs/{run_id}/metrics`` -> ``/api/runs/{}/metrics``."""
    return PARAM.sub("{}", path)


def need_for(method: str, template: str) -> Need:
    """What ``method`` on the route with path template ``template`` needs (see the module docstring)."""
    method = "GET" if method == "HEAD" else method
    if template.startswith(OPEN_PREFIXES):
        return Need.OPEN
    need = POLICY.get((method, template_key(template)))
    if need is not None:
        return need
    return Need.READ if method in SAFE_METHODS else Need.WRITE


def allows(need: Need, scope: str | None) -> bool:
    return need is Need.OPEN or (scope is not None and scope in need.value)
