"""Where a run trains: the Keras backend and the device, as recorded on the run."""

from __future__ import annotations

import logging

import keras

log = logging.getLogger(__name__)


def backend_name() -> str:
    return keras.backend.backend()


def device_name() -> str:
    """The first accelerator's name, else "CPU"; never raises."""
    try:
        return _DEVICE_PROBES.get(backend_name(), lambda: None)() or "CPU"
    except Exception as error:  # a probe failing must not fail the run
        log.warning("device detection failed: %s", error)
        return "CPU"


def _tensorflow() -> str | None:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    details = tf.config.experimental.get_device_details(gpus[0])
    return details.get("device_name") or gpus[0].name


def _jax() -> str | None:
    import jax

    device = jax.devices()[0]
    return None if device.platform == "cpu" else getattr(device, "device_kind", device.platform)


def _torch() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


_DEVICE_PROBES = {"tensorflow": _tensorflow, "jax": _jax, "torch": _torch}
