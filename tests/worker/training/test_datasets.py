"""Dataset loading: splits, preprocessing, offline sources."""

import gzip
import urllib.error

import numpy as np
import pytest

from reglab.spec import DatasetSpec
from worker.training import datasets


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras cache; Keras' own cache directory is read from the same variable."""
    import keras.src.backend.config as keras_config

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setattr(datasets, "_last", None)
    datasets.raw.cache_clear()
    yield tmp_path
    datasets.raw.cache_clear()


def test_digits_split_and_scale():
    from sklearn.datasets import load_digits

    data = datasets.load(DatasetSpec(name="digits", validation_samples=300, preprocessing="scale"))
    assert data.x_train.shape == (1137, 8, 8) and data.x_val.shape == (300, 8, 8)
    assert data.x_test.shape == (360, 8, 8)
    assert data.classes == 10 and data.input_shape == (8, 8)
    images, labels = load_digits().images, load_digits().target
    np.testing.assert_allclose(data.x_val, images[:300] / 16, rtol=1e-6)  # the head is validation
    np.testing.assert_allclose(data.x_train, images[300:1437] / 16, rtol=1e-6)
    np.testing.assert_array_equal(data.y_test, labels[1437:])  # the last 360 are the test set
    assert data.x_train.dtype == np.float32 and data.x_train.max() == 1.0


def test_train_samples_caps_what_follows_the_validation_head():
    data = datasets.load(DatasetSpec(name="digits", validation_samples=100, train_samples=50))
    assert len(data.x_train) == 50 and len(data.x_val) == 100
    full = datasets.load(DatasetSpec(name="digits", validation_samples=100, train_samples=50, preprocessing="none"))
    np.testing.assert_array_equal(full.x_train, datasets.raw("digits")[0][0][100:150])


def test_standardize_uses_the_training_part_statistics():
    data = datasets.load(DatasetSpec(name="digits", validation_samples=300, preprocessing="standardize"))
    flat = data.x_train.reshape(len(data.x_train), -1)
    raw_train = datasets.raw("digits")[0][0][300:].reshape(1137, -1)
    varying = raw_train.std(axis=0) > 0
    np.testing.assert_allclose(flat.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(flat.std(axis=0)[varying], 1, rtol=1e-4)
    # Constant features (digits' always-blank corner) stay finite rather than dividing by 0.
    assert np.isfinite(data.x_val).all() and np.isfinite(data.x_test).all()
    mean, std = raw_train.mean(axis=0), raw_train.std(axis=0)
    std[std == 0] = 1
    raw_val = datasets.raw("digits")[0][0][:300].reshape(300, -1)
    np.testing.assert_allclose(data.x_val.reshape(300, -1), (raw_val - mean) / std, rtol=1e-4, atol=1e-5)


def test_the_last_dataset_loaded_is_kept_for_the_next_run():
    spec = DatasetSpec(name="digits", validation_samples=300)
    first = datasets.load(spec)
    assert datasets.load(DatasetSpec(name="digits", validation_samples=300)) is first  # an equal section: kept
    other = datasets.load(DatasetSpec(name="digits", validation_samples=200))
    assert other is not first and len(other.x_val) == 200
    again = datasets.load(spec)  # only the last one is kept
    assert again is not first and len(again.x_val) == 300


def test_none_keeps_raw_values():
    data = datasets.load(DatasetSpec(name="digits", validation_samples=300, preprocessing="none"))
    assert data.x_train.max() == 16.0


@pytest.mark.skipif(not datasets.DEBIAN_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_the_debian_files_through_the_keras_loader(keras_home):
    data = datasets.load(DatasetSpec(name="fashion_mnist", validation_samples=5000, preprocessing="none"))
    assert data.x_train.shape == (55000, 28, 28) and data.x_val.shape == (5000, 28, 28)
    assert data.x_test.shape == (10000, 28, 28) and data.classes == 10
    linked = keras_home / "datasets" / "fashion-mnist" / "train-images-idx3-ubyte.gz"
    assert linked.is_symlink() and linked.resolve() == datasets.DEBIAN_FASHION_MNIST / "train-images-idx3-ubyte.gz"
    with gzip.open(datasets.DEBIAN_FASHION_MNIST / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    np.testing.assert_array_equal(data.y_test, labels)
    assert datasets.raw("fashion_mnist") is datasets.raw("fashion_mnist"), "loaded once per process"


def test_missing_dataset_says_which_file_to_put_where(keras_home, monkeypatch):
    import keras.src.utils.file_utils as file_utils

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network unreachable")

    monkeypatch.setattr(file_utils, "urlretrieve", offline)
    with pytest.raises(datasets.DatasetUnavailable) as error:
        datasets.load(DatasetSpec(name="cifar10", validation_samples=500))
    message = str(error.value)
    assert "dataset cifar10 is not in the Keras cache" in message
    assert "put cifar-10-python.tar.gz in $KERAS_HOME/datasets" in message and str(keras_home) in message
    with pytest.raises(datasets.DatasetUnavailable, match="put mnist.npz in"):
        datasets.load(DatasetSpec(name="mnist", validation_samples=500))


def test_imdb_multi_hot_as_in_the_notes():
    encoded = datasets.multi_hot([[1, 3, 3], [0], []], num_words=5)
    np.testing.assert_array_equal(encoded, [[0, 1, 0, 1, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]])
