"""Datasets of the run spec, through the real Keras loaders (digits: scikit-learn).

``load(dataset_spec)`` returns the training part, the validation head and the
loader's own test set, preprocessed as the spec says. The raw arrays and the
last preprocessed splits are cached per process, so a worker training many
runs on one dataset reads and preprocesses it once.

Offline use: Keras looks in ``$KERAS_HOME/datasets`` (default
``~/.keras/datasets``) before downloading. For Fashion-MNIST the worker
first links Debian's ``dataset-fashion-mnist`` files into that cache; for the
others a failed download becomes a :class:`DatasetUnavailable` whose message
says which file to put where.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from reglab.spec import UPLOAD_PREFIX

log = logging.getLogger(__name__)

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
# What a person must place in $KERAS_HOME/datasets when the download fails:
# (file to put there, name Keras looks for when it differs, where to get it).
CACHE_FILES = {
    "fashion_mnist": (
        "fashion-mnist/" + ", fashion-mnist/".join(FASHION_MNIST_FILES),
        None,
        "Debian's dataset-fashion-mnist package or https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    ),
    "mnist": ("mnist.npz", None, "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"),
    "cifar10": (
        "cifar-10-python.tar.gz",
        "cifar-10-batches-py-target_archive",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    ),
    "imdb": ("imdb.npz", None, "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"),
}
# digits has no official split; the last 360 of its 1797 images are the test set.
DIGITS_TEST_SIZE = 360


class DatasetUnavailable(RuntimeError):
    """The dataset is neither in the Keras cache nor downloadable; the message says how to fix it."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def keras_datasets_dir() -> Path:
    """Where Keras' loaders look first: $KERAS_HOME/datasets, else ~/.keras/datasets."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def load(spec: Any) -> Dataset:
    """The preprocessed splits for a spec's ``dataset`` section.

    Validation is the head of the loader's training set
    (``validation_samples``); ``train_samples`` caps what follows it. The last
    section loaded is kept, so a worker training a study's runs one after the
    other preprocesses the data once (0.4 s for 25,000 Fashion-MNIST images
    on a busy 2-core machine, 1.6 s for all of them: more than a small run's
    epoch). Training never writes to the arrays.
    """
    global _last
    key = spec.model_dump_json()
    if _last is None or _last[0] != key:
        _last = None  # one dataset in memory at a time: drop the old one before building the next
        _last = (key, _prepare(spec))
    return _last[1]


# (the dataset section as JSON, its splits): the last one :func:`load` built in this process.
_last: tuple[str, Dataset] | None = None


def _prepare(spec: Any) -> Dataset:
    if spec.name.startswith(UPLOAD_PREFIX):
        from worker.training import uploaded

        stored = uploaded.load(spec.name, spec.sha256)
        (x_full, y_full), (x_test, y_test) = (stored["x_train"], stored["y_train"]), (stored["x_test"], stored["y_test"])
        classes = len(stored["class_names"])
    else:
        (x_full, y_full), (x_test, y_test) = raw(spec.name, spec.num_words if spec.name == "imdb" else None)
        classes = 2 if spec.name == "imdb" else 10
    head = spec.validation_samples
    if head >= len(x_full):
        raise ValueError(f"validation_samples={head} leaves no training data: {spec.name} has {len(x_full)}")
    end = len(x_full) if spec.train_samples is None else min(len(x_full), head + spec.train_samples)
    x_train, x_val = x_full[head:end], x_full[:head]
    preprocess = PREPROCESSING[spec.preprocessing](x_train, spec.name)
    return Dataset(
        x_train=preprocess(x_train),
        y_train=y_full[head:end],
        x_val=preprocess(x_val),
        y_val=y_full[:head],
        x_test=preprocess(x_test),
        y_test=y_test,
        classes=classes,
    )


# ---- preprocessing: fitted on the training part, applied to every split ------


def _scale(x_train: np.ndarray, name: str) -> Callable[[np.ndarray], np.ndarray]:
    # Pixels to [0, 1]; digits count 0..16; imdb's multi-hot is already 0/1; an
    # upload is scaled only when it is 8-bit (images), its floats are kept as given.
    if name.startswith(UPLOAD_PREFIX):
        divisor = 255.0 if x_train.dtype == np.uint8 else 1.0
    else:
        divisor = {"digits": 16.0, "imdb": 1.0}.get(name, 255.0)
    return lambda x: (x / np.float32(divisor)).astype("float32")


def _standardize(x_train: np.ndarray, name: str) -> Callable[[np.ndarray], np.ndarray]:
    # Per-feature mean/std of the training part (the notebook's X_means, X_stds).
    # A constant feature (e.g. an always-black border pixel) keeps std 1, not 0.
    mean = x_train.mean(axis=0, dtype="float64").astype("float32")
    std = x_train.std(axis=0, dtype="float64").astype("float32")
    std[std == 0] = 1.0
    return lambda x: ((x - mean) / std).astype("float32")


def _none(x_train: np.ndarray, name: str) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: x.astype("float32")


PREPROCESSING = {"scale": _scale, "standardize": _standardize, "none": _none}


# ---- raw loaders, cached per process -----------------------------------------


@functools.lru_cache(maxsize=4)
def raw(name: str, num_words: int | None = None) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train), (x_test, y_test)`` as the loader gives them (labels flattened)."""
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(LOADERS)}")
    (x_train, y_train), (x_test, y_test) = LOADERS[name](num_words)
    for array in (x_train, y_train, x_test, y_test):
        array.flags.writeable = False  # shared by every run of this process
    return (x_train, y_train), (x_test, y_test)


def _through_keras(name: str, load_data: Callable[[], Any]) -> Any:
    try:
        return load_data()
    except Exception as error:  # Keras raises a bare Exception for a failed download
        raise DatasetUnavailable(_unavailable_message(name, error)) from error


def _unavailable_message(name: str, error: BaseException) -> str:
    put, keras_name, origin = CACHE_FILES[name]
    where = keras_datasets_dir()
    renamed = f" (the worker links it under the name Keras looks for, {keras_name})" if keras_name else ""
    return (
        f"dataset {name} is not in the Keras cache and could not be downloaded ({error}): "
        f"put {put} in $KERAS_HOME/datasets (here {where}){renamed}; get it from {origin}"
    )


def _fashion_mnist(_num_words: int | None) -> Any:
    import keras

    _link_debian_fashion_mnist()
    return _through_keras("fashion_mnist", keras.datasets.fashion_mnist.load_data)


def _link_debian_fashion_mnist() -> None:
    """Give Keras' cache Debian's copy of the four original files when it lacks them."""
    target = keras_datasets_dir() / "fashion-mnist"
    if not DEBIAN_FASHION_MNIST.is_dir() or all((target / f).exists() for f in FASHION_MNIST_FILES):
        return
    try:
        target.mkdir(parents=True, exist_ok=True)
        for fname in FASHION_MNIST_FILES:
            source, link = DEBIAN_FASHION_MNIST / fname, target / fname
            if source.exists() and not link.exists():
                link.symlink_to(source)
        log.info("linked %s into the Keras cache %s", DEBIAN_FASHION_MNIST, target)
    except OSError as error:
        log.warning("could not link %s into %s: %s", DEBIAN_FASHION_MNIST, target, error)


def _mnist(_num_words: int | None) -> Any:
    import keras

    return _through_keras("mnist", keras.datasets.mnist.load_data)


def _cifar10(_num_words: int | None) -> Any:
    import keras

    # Keras caches the archive under its own name; accept the original file name too.
    cache = keras_datasets_dir()
    original, keras_name = cache / "cifar-10-python.tar.gz", cache / "cifar-10-batches-py-target_archive"
    if original.exists() and not keras_name.exists():
        try:
            keras_name.symlink_to(original)
        except OSError as error:
            log.warning("could not link %s as %s: %s", original, keras_name, error)
    (x_train, y_train), (x_test, y_test) = _through_keras("cifar10", keras.datasets.cifar10.load_data)
    return (x_train, y_train.reshape(-1)), (x_test, y_test.reshape(-1))


def _imdb(num_words: int | None) -> Any:
    import keras

    num_words = num_words or 10000
    (train, y_train), (test, y_test) = _through_keras(
        "imdb", lambda: keras.datasets.imdb.load_data(num_words=num_words)
    )
    return (multi_hot(train, num_words), y_train.astype("uint8")), (multi_hot(test, num_words), y_test.astype("uint8"))


def multi_hot(sequences: Any, num_words: int) -> np.ndarray:
    """The notes' sequences_shaping: row i has 1 at every word index review i contains."""
    result = np.zeros((len(sequences), num_words), dtype="uint8")
    for row, sequence in enumerate(sequences):
        result[row, np.asarray(sequence, dtype="int64")] = 1
    return result


def _digits(_num_words: int | None) -> Any:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = digits.images.astype("float32"), digits.target.astype("uint8")
    split = len(images) - DIGITS_TEST_SIZE
    return (images[:split], labels[:split]), (images[split:], labels[split:])


LOADERS: dict[str, Callable[[int | None], Any]] = {
    "fashion_mnist": _fashion_mnist,
    "mnist": _mnist,
    "cifar10": _cifar10,
    "imdb": _imdb,
    "digits": _digits,
}
