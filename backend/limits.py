"""This server's limits on a valid spec (REGLAB_MAX_EPOCHS, REGLAB_MAX_PARAMS), checked before a run is queued."""

from __future__ import annotations

from dataclasses import dataclass

from backend.model_size import param_count, too_large_message
from backend.settings import get_settings
from reglab.spec import RunSpec


@dataclass(frozen=True)
class Breach:
    """One limit a spec exceeds: the spec field it concerns, a message and pydantic-like error type."""

    field: str
    msg: str
    type: str


def breaches(spec: RunSpec, max_epochs: int | None = None, max_params: int | None = None) -> list[Breach]:
    """The limits ``spec`` exceeds (the settings' unless given), with ``field`` a spec path."""
    settings = get_settings()
    max_epochs = settings.MAX_EPOCHS if max_epochs is None else max_epochs
    max_params = settings.MAX_PARAMS if max_params is None else max_params
    found = []
    if spec.training.epochs > max_epochs:
        found.append(
            Breach(
                "training.epochs",
                f"must be ≤ {max_epochs} (this server's REGLAB_MAX_EPOCHS), got {spec.training.epochs}",
                "less_than_equal",
            )
        )
    count = param_count(spec)
    if count > max_params:
        found.append(Breach("model.hidden_layers", too_large_message(count, max_params), "too_many_parameters"))
    return found


def spec_limit_errors(spec: RunSpec, prefix: str = "") -> list[dict[str, str]]:
    """:func:`breaches` as 422 field errors, fields under ``prefix`` (e.g. ``"base."``)."""
    return [{"field": prefix + b.field, "msg": b.msg, "type": b.type} for b in breaches(spec)]
