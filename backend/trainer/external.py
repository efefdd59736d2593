"""External runs: trained anywhere (a notebook, the Keras callback, a TensorBoard import), tracked here.

An external run has no RunSpec. Its ``Run.spec`` is ``{"external": {...}}``
holding the free-form ``params`` it was logged with, its ``source`` and, for
imports, the ``source_key`` that makes a repeated import find it again. Code
reading ``Run.spec`` as a RunSpec asks :func:`is_external` first.
"""

from __future__ import annotations

from typing import Any

from reglab.spec import flatten

EXTERNAL = "external"


def is_external(spec: dict[str, Any] | None) -> bool:
    return isinstance(spec, dict) and isinstance(spec.get(EXTERNAL), dict)


def external_spec(
    params: dict[str, Any], source: str, source_key: str | None = None, tags: list[str] | None = None
) -> dict[str, Any]:
    info: dict[str, Any] = {"params": params, "source": source, "tags": list(tags or [])}
    if source_key is not None:
        info["source_key"] = source_key
    return {EXTERNAL: info}


def params_root(spec: dict[str, Any]) -> dict[str, Any]:
    """The nested parameters :func:`run_params` flattens: the spec itself, or an external run's ``params``."""
    if is_external(spec):
        params = spec[EXTERNAL].get("params") or {}
        return params if isinstance(params, dict) else {}
    return spec


def run_params(spec: dict[str, Any]) -> dict[str, Any]:
    """The flat parameters a comparison shows: a trained run's spec fields, an external run's ``params``.

    An external run's params keep their own names (``dropout``, ``optimizer.lr``)
    so that a parameter named like a spec field lines up with it.
    """
    return flatten(params_root(spec))
