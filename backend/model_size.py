"""How many parameters the worker's model of a spec has, counted from the spec alone (no TensorFlow).

It follows ``worker/training/model.py`` layer by layer (conv blocks included), counting as Keras'
``count_params()`` does (non-trainable batch-norm statistics included), so
the API can refuse a model too large to train before it is queued. A worker
test holds the two to agreement.
"""

from __future__ import annotations

import math

from reglab.spec import RunSpec, dataset_info

# BatchNormalization keeps gamma, beta, and the moving mean and variance per feature.
BATCH_NORM_PER_UNIT = 4


def _hidden_extras(spec: RunSpec, units: int, positions: int) -> int:
    """Batch norm and PReLU parameters of one hidden Dense or Conv2D with ``units`` outputs.

    PReLU learns one slope per output value (Keras shares no axis by default),
    so a conv layer's PReLU has one per position and filter.
    """
    model = spec.model
    extras = units * positions if model.activation == "prelu" else 0
    if model.batch_norm != "none":
        extras += BATCH_NORM_PER_UNIT * units
    return extras


def _bias(spec: RunSpec, units: int) -> int:
    # Batch norm before the activation replaces the bias with its beta.
    return 0 if spec.model.batch_norm == "before_activation" else units


def param_count(spec: RunSpec) -> int:
    """Parameters of the spec's model, as ``keras.Model.count_params()`` reports them.

    Raises ValueError for an uploaded dataset this process has no catalog for.
    """
    model = spec.model
    info = dataset_info(spec.dataset.name)
    if info is None:
        raise ValueError(f"the shape of {spec.dataset.name} is known only where the dataset catalog is")
    shape = info.shape if spec.dataset.name != "imdb" else (spec.dataset.num_words,)
    total = 0
    if model.conv:
        height, width = shape[0], shape[1]
        channels = shape[2] if len(shape) == 3 else 1
        if model.input_batch_norm:
            total += BATCH_NORM_PER_UNIT * channels
        for block in model.conv:
            kernel = block.kernel_size * block.kernel_size * channels * block.filters
            total += kernel + _bias(spec, block.filters) + _hidden_extras(spec, block.filters, height * width)
            channels = block.filters
            if block.pool:
                height, width = height // block.pool, width // block.pool
        features = height * width * channels
    else:
        features = math.prod(shape)
        if model.input_batch_norm:
            total += BATCH_NORM_PER_UNIT * features
    for units in model.hidden_layers:
        total += features * units + _bias(spec, units) + _hidden_extras(spec, units, 1)
        features = units
    outputs = 1 if info.classes == 2 else info.classes
    return total + features * outputs + outputs


def too_large_message(count: int, limit: int) -> str:
    return f"the model would have {count:,} parameters, more than this server's limit of {limit:,} (REGLAB_MAX_PARAMS)"
