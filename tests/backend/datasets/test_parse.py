"""Uploaded files -> arrays: each format round-trips, each bad file is refused in words."""

import io
import pickle
import zipfile

import numpy as np
import pytest
from PIL import Image

from backend.datasets import parse

LIMITS = parse.Limits(examples=1000, features=4096, classes=20, decoded_bytes=64 * 2**20)


def npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_npz_round_trip_with_test_set_and_class_names(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 4, 4)).astype("float64"), rng.integers(0, 3, 30)
    arrays = parse.from_npz(
        npz(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x[:5], y_test=y[:5], class_names=np.array(["a", "b", "c"])),
        LIMITS,
    )
    np.testing.assert_allclose(arrays.x_train, x.astype("float32"))
    np.testing.assert_array_equal(arrays.y_train, y)
    assert arrays.x_test.shape == (5, 4, 4) and arrays.class_names == ["a", "b", "c"]
    assert arrays.x_train.dtype == np.float32 and arrays.example_shape == (4, 4)


def test_npz_without_test_set_holds_out_the_last_fifth(tmp_path):
    x = np.arange(50 * 3, dtype="uint8").reshape(50, 3)
    y = np.array(["cat", "dog"] * 25)
    arrays = parse.from_npz(npz(tmp_path / "d.npz", x_train=x, y_train=y), LIMITS)
    assert len(arrays.x_train) == 40 and len(arrays.x_test) == 10
    np.testing.assert_array_equal(arrays.x_test, x[40:])
    assert arrays.class_names == ["cat", "dog"] and arrays.y_test.tolist() == [0, 1] * 5
    assert arrays.x_train.dtype == np.uint8  # 8-bit data stays 8-bit, for /255 scaling


def test_npz_object_array_is_refused_without_unpickling(tmp_path):
    ragged = np.empty(3, dtype=object)
    ragged[:] = [[1], [2, 3], [4]]
    path = npz(tmp_path / "evil.npz", x_train=ragged, y_train=np.array([0, 1, 0]))
    with pytest.raises(parse.DatasetRefused, match="x_train is an object array"):
        parse.from_npz(path, LIMITS)


def test_npz_holding_a_raw_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x_train.npy", pickle.dumps({"boom": 1}))
    with pytest.raises(parse.DatasetRefused, match="not a readable .npy array"):
        parse.from_npz(path, LIMITS)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x_train": np.zeros((5, 2, 2)), "y_train": np.zeros(5, int), "x_test": np.zeros((2, 4)), "y_test": np.zeros(2, int)},
         "x_train has 3 dimensions but x_test has 2"),
        ({"x_train": np.zeros((5, 2)), "y_train": np.zeros(4, int)}, "y_train has 4 labels for 5 examples"),
        ({"x_train": np.array([[0.0, np.nan]] * 5), "y_train": np.arange(5) % 2}, "x_train holds NaN or inf (example 0"),
        ({"x_train": np.array([[0.0, 1.0]] * 4 + [[np.inf, 0.0]]), "y_train": np.arange(5) % 2}, "example 4"),
        ({"x_train": np.zeros((5, 2)), "y_train": np.array([0, 1, 2, 3, -1])}, "labels must be integers in [0, 4), got -1"),
        ({"x_train": np.zeros((5, 2)), "y_train": np.array([0, 1, 0, 1, 2]), "class_names": np.array(["a", "b"])},
         "labels must be integers in [0, 2), got 2"),
        ({"x_train": np.zeros((5, 2)), "y_train": np.array([0.5] * 5)}, "labels must be integers or strings, got float64"),
        ({"x_train": np.zeros((5, 2)), "y_train": np.zeros(5, int)}, "needs at least 2 classes"),
        ({"x_train": np.zeros((5, 2))}, "has no y_train array"),
        ({"x_train": np.zeros((5, 2)), "y_train": np.zeros(5, int), "x_test": np.zeros((1, 2))}, "only one of x_test and y_test"),
        ({"x_train": np.zeros((5, 2)), "y_train": np.zeros(5, int), "weights": np.zeros(3)}, "holds arrays weights"),
        ({"x_train": np.zeros((2000, 2)), "y_train": np.arange(2000) % 2}, "2000 examples, more than the 1000 allowed"),
        ({"x_train": np.zeros((5, 5000)), "y_train": np.arange(5) % 2}, "5000 values per example, more than the 4096"),
    ],
)
def test_npz_refusals_say_what_is_wrong(tmp_path, arrays, message):
    with pytest.raises(parse.DatasetRefused) as refused:
        parse.from_npz(npz(tmp_path / "bad.npz", **arrays), LIMITS)
    assert message in str(refused.value)


def test_csv_with_string_labels(tmp_path):
    path = tmp_path / "iris.csv"
    rows = [f"{i * 0.5},{i % 3},{['setosa', 'virginica'][i % 2]}" for i in range(20)]
    path.write_text("petal,sepal,species\n" + "\n".join(rows) + "\n")
    arrays = parse.from_csv(path, "species", LIMITS)
    assert arrays.class_names == ["setosa", "virginica"]
    assert arrays.x_train.shape == (16, 2) and arrays.x_test.shape == (4, 2)
    np.testing.assert_allclose(arrays.x_train[:, 0], np.arange(16) * 0.5)
    assert arrays.y_train[:4].tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize(
    ("text", "label", "message"),
    [
        ("a,b,label\n1,2,0\n", "target", "column 'target' not found; columns are a, b, label"),
        ("a,b,label\n1,red,0\n2,3,1\n", "label", "column 'b' is not numeric: 'red' in row 2"),
        ("a,label\n1,0\nnan,1\n3,0\n4,1\n5,0\n", "label", "x_train holds NaN or inf (example 1"),
        ("a,label\n1,0\n", None, "name the column that holds the labels"),
    ],
)
def test_csv_refusals(tmp_path, text, label, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(parse.DatasetRefused) as refused:
        parse.from_csv(path, label, LIMITS)
    assert message in str(refused.value)


def png(color, size):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_image_folders_are_decoded_converted_and_resized(tmp_path):
    path = tmp_path / "shapes.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(4):
            archive.writestr(f"shapes/red/{i}.png", png((255, 0, 0), (12, 10)))
            archive.writestr(f"shapes/white/{i}.png", png((255, 255, 255), (6, 6)))
        archive.writestr("shapes/test/red/t.png", png((255, 0, 0), (8, 8)))
        archive.writestr("shapes/test/white/t.png", png((255, 255, 255), (8, 8)))
        archive.writestr("__MACOSX/shapes/red/._0.png", b"junk")
    gray = parse.from_image_zip(path, "grayscale", 8, LIMITS)
    assert gray.class_names == ["red", "white"] and gray.x_train.shape == (8, 8, 8)
    assert gray.x_test.shape == (2, 8, 8) and gray.y_test.tolist() == [0, 1]
    # ITU-R 601 luma of pure red is 76; white stays 255.
    assert set(np.unique(gray.x_train[gray.y_train == 0])) == {76}
    assert set(np.unique(gray.x_train[gray.y_train == 1])) == {255}
    rgb = parse.from_image_zip(path, "rgb", 4, LIMITS)
    assert rgb.x_train.shape == (8, 4, 4, 3) and rgb.x_train[rgb.y_train == 0][0, 0, 0].tolist() == [255, 0, 0]


def test_image_zip_refusals(tmp_path):
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("cats/1.png", b"not a png")
    with pytest.raises(parse.DatasetRefused, match="cats/1.png is not a readable image"):
        parse.from_image_zip(path, "grayscale", 8, LIMITS)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", b"hi")
    with pytest.raises(parse.DatasetRefused, match="holds no class_name"):
        parse.from_image_zip(path, "grayscale", 8, LIMITS)
