"""Monte-Carlo dropout layers: Dropout and AlphaDropout that stay active at inference.

The notebook's ``MCDropout`` / ``MCAlphaDropout``, for Keras 3: ``call`` takes
``training`` and ignores it, so ``predict`` and ``evaluate`` sample a new
dropout mask on every pass (Gal & Ghahramani's MC dropout).
"""

import keras


@keras.saving.register_keras_serializable(package="reglab")
class MCDropout(keras.layers.Dropout):
    """Dropout that is also active at inference."""

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


@keras.saving.register_keras_serializable(package="reglab")
class MCAlphaDropout(keras.layers.AlphaDropout):
    """AlphaDropout (keeps SELU's mean and variance) that is also active at inference."""

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


@keras.saving.register_keras_serializable(package="reglab")
class MCSpatialDropout2D(keras.layers.SpatialDropout2D):
    """SpatialDropout2D (drops whole feature maps) that is also active at inference."""

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


# spec.regularization.dropout_kind -> layer class
DROPOUT_LAYERS = {
    "standard": keras.layers.Dropout,
    "alpha": keras.layers.AlphaDropout,
    "mc": MCDropout,
    "mc_alpha": MCAlphaDropout,
}
# The Monte-Carlo twin of each inference-time-inactive dropout class.
MC_TWINS = {
    keras.layers.Dropout: MCDropout,
    keras.layers.AlphaDropout: MCAlphaDropout,
    keras.layers.SpatialDropout2D: MCSpatialDropout2D,
}


def get_dropout(identifier: str) -> type:
    """The dropout layer class for a spec ``dropout_kind``."""
    try:
        return DROPOUT_LAYERS[identifier]
    except KeyError:
        raise ValueError(f"unknown dropout_kind {identifier!r}; expected one of {sorted(DROPOUT_LAYERS)}") from None


def get_spatial_dropout(identifier: str) -> type:
    """The feature-map dropout class for a spec ``dropout_kind``: MC kinds stay active at inference.

    SpatialDropout2D has no alpha variant; alpha kinds drop maps the standard way.
    """
    get_dropout(identifier)  # same refusal of unknown kinds
    return MCSpatialDropout2D if identifier.startswith("mc") else keras.layers.SpatialDropout2D
