"""End-of-run evaluation: the test set and Monte-Carlo dropout.

MC dropout follows the notebook: a twin of the trained model whose dropout
layers stay active at inference (MCDropout / MCAlphaDropout sharing the
trained layers' weights), run ``mc_samples`` times over the test set; the
class probabilities are averaged. Using the twin in inference mode, rather
than calling the model with ``training=True``, keeps batch normalization on
its moving statistics (a ``training=True`` call would also update them).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from worker.training.datasets import Dataset
from worker.training.layers import MC_TWINS

EVAL_BATCH_SIZE = 1024


def mc_twin(model: keras.Sequential) -> keras.Sequential:
    """``model`` with each Dropout/AlphaDropout swapped for its Monte-Carlo twin, other layers shared."""
    layers = []
    for layer in model.layers:
        twin = MC_TWINS.get(type(layer))
        layers.append(twin(layer.rate, seed=layer.seed) if twin else layer)
    return keras.Sequential([keras.Input(shape=model.input_shape[1:]), *layers], name=f"{model.name}_mc")


def mc_predict(model: keras.Sequential, x: np.ndarray, samples: int) -> np.ndarray:
    """``samples`` stochastic passes over ``x``: shape (samples, examples, outputs)."""
    twin = mc_twin(model)
    return np.stack([twin.predict(x, batch_size=EVAL_BATCH_SIZE, verbose=0) for _ in range(samples)])


def evaluate(model: keras.Sequential, data: Dataset, spec: Any, seed: int) -> dict[str, float]:
    """Summary figures for a spec ``evaluation`` section."""
    summary: dict[str, float] = {}
    if spec.test_set:
        results = model.evaluate(data.x_test, data.y_test, batch_size=EVAL_BATCH_SIZE, verbose=0, return_dict=True)
        summary["test_loss"] = float(results["loss"])
        summary["test_accuracy"] = float(results["accuracy"])
    if spec.mc_samples > 0:
        keras.utils.set_random_seed(seed)
        probas = mc_predict(model, data.x_test, spec.mc_samples)
        mean = probas.mean(axis=0)
        if mean.shape[-1] == 1:  # sigmoid output: probability of class 1
            predicted = (mean[:, 0] > 0.5).astype("int64")
        else:
            predicted = mean.argmax(axis=1)
        summary["mc_test_accuracy"] = float(np.mean(predicted == data.y_test.astype("int64")))
        summary["mc_predictive_std"] = float(probas.std(axis=0).mean())
    return summary
