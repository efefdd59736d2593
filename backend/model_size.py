"""How many parameters the worker's model of a spec has, counted from the spec alone (no TensorFlow).

It follows ``worker/training/model.py`` layer by layer, counting as Keras'
``count_params()`` does (non-trainable batch-norm statistics included), so
the API can refuse a model too large to train before it is queued. A worker
test holds the two to agreement.
"""

from __future__ import annotations

from backend.spec import DATASET_CLASSES, RunSpec

# Features after Flatten: 28x28 images, 32x32x3 images, 8x8 digits; imdb is multi-hot over num_words.
IMAGE_FEATURES = {"fashion_mnist": 28 * 28, "mnist": 28 * 28, "cifar10": 32 * 32 * 3, "digits": 8 * 8}
# BatchNormalization keeps gamma, beta, and the moving mean and variance per unit.
BATCH_NORM_PER_UNIT = 4


def input_features(spec: RunSpec) -> int:
    if spec.dataset.name == "imdb":
        return spec.dataset.num_words
    return IMAGE_FEATURES[spec.dataset.name]


def param_count(spec: RunSpec) -> int:
    """Parameters of the spec's model, as ``keras.Model.count_params()`` reports them."""
    model = spec.model
    width = input_features(spec)
    total = BATCH_NORM_PER_UNIT * width if model.input_batch_norm else 0
    for units in model.hidden_layers:
        if model.batch_norm == "before_activation":
            # The Dense drops its bias: batch norm's beta replaces it.
            total += width * units + BATCH_NORM_PER_UNIT * units
        else:
            total += width * units + units
        if model.activation == "prelu":
            total += units  # one learned slope per unit
        if model.batch_norm == "after_activation":
            total += BATCH_NORM_PER_UNIT * units
        width = units
    outputs = 1 if DATASET_CLASSES[spec.dataset.name] == 2 else DATASET_CLASSES[spec.dataset.name]
    return total + width * outputs + outputs


def too_large_message(count: int, limit: int) -> str:
    return f"the model would have {count:,} parameters, more than this server's limit of {limit:,} (REGLAB_MAX_PARAMS)"
