"""Dataset endpoints on a real database: upload, list, use in specs, fetch, delete."""

import io
import zipfile

import numpy as np
from PIL import Image

from backend.datasets import store
from tests.backend.helpers import errors_by_field, make_experiment


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def small_npz(rows: int = 40) -> bytes:
    rng = np.random.default_rng(1)
    return npz_bytes(x_train=rng.integers(0, 255, (rows, 6, 6)).astype("uint8"), y_train=np.arange(rows) % 3)


def upload(client, content: bytes, filename: str, **form):
    return client.post("/api/datasets", files={"file": (filename, content)}, data=form)


def test_npz_upload_is_listed_fetched_and_usable_in_specs(client):
    response = upload(client, small_npz(), "blobs.npz", name="blobs")
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["ref"] == f"upload:{record['id']}" and record["name"] == "blobs"
    assert (record["shape"], record["classes"], record["train"], record["test"]) == ([6, 6], 3, 32, 8)
    assert record["format"] == "npz" and record["dtype"] == "uint8" and len(record["sha256"]) == 64
    assert [d["name"] for d in client.get("/api/datasets").json()["items"]] == ["blobs"]

    fetched = client.get(f"/api/datasets/{record['id']}/file")
    assert fetched.status_code == 200
    with np.load(io.BytesIO(fetched.content), allow_pickle=False) as data:
        assert store.content_hash({name: data[name] for name in store.STORED_ARRAYS}) == record["sha256"]

    # By reference and by its unique name, the spec records the content hash.
    for name in (record["ref"], "blobs"):
        body = client.post("/api/spec/validate", json={"dataset": {"name": name, "validation_samples": 8}})
        assert body.status_code == 200, body.text
        dataset = body.json()["spec"]["dataset"]
        assert dataset["name"] == record["ref"] and dataset["sha256"] == record["sha256"]
    too_many = client.post("/api/spec/validate", json={"dataset": {"name": "blobs", "validation_samples": 32}})
    assert "less than the 32 training examples of " + record["ref"] in errors_by_field(too_many)["dataset"]
    conv = client.post("/api/spec/validate", json={"dataset": {"name": "blobs", "validation_samples": 8},
                                                  "model": {"conv": [{"filters": 4, "pool": 2}]}})
    assert conv.status_code == 200, conv.text
    unknown = client.post("/api/spec/validate", json={"dataset": {"name": "upload:999"}})
    assert "no uploaded dataset is named 'upload:999'" in errors_by_field(unknown)["dataset.name"]


def test_a_dataset_in_use_is_not_deleted_and_the_error_names_the_runs(client):
    record = upload(client, small_npz(), "used.npz").json()
    study = make_experiment(client, base={"dataset": {"name": "used", "validation_samples": 8}},
                            grid={"training.seed": [1, 2]})
    run_ids = [run["id"] for run in study["runs"]]
    response = client.delete(f"/api/datasets/{record['id']}")
    assert response.status_code == 409
    assert f"used by runs {run_ids[0]}, {run_ids[1]}" in response.json()["detail"]
    client.delete(f"/api/experiments/{study['id']}")
    assert client.delete(f"/api/datasets/{record['id']}").status_code == 204
    assert client.get(f"/api/datasets/{record['id']}").status_code == 404
    assert client.get("/api/datasets").json()["items"] == []


def test_csv_and_image_uploads(client):
    csv = "f1,f2,kind\n" + "\n".join(f"{i},{i * 2},{'ab'[i % 2]}" for i in range(30))
    record = upload(client, csv.encode(), "table.csv", label_column="kind").json()
    assert record["shape"] == [2] and record["class_names"] == ["a", "b"] and record["dtype"] == "float32"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for label, value in (("dark", 10), ("light", 240)):
            for i in range(6):
                image = io.BytesIO()
                Image.new("L", (9, 9), value).save(image, format="PNG")
                archive.writestr(f"{label}/{i}.png", image.getvalue())
    images = upload(client, buffer.getvalue(), "tones.zip", color="rgb", image_size="5")
    assert images.status_code == 201, images.text
    assert images.json()["shape"] == [5, 5, 3] and images.json()["format"] == "images"


def test_refusals_are_422s_naming_the_part(client, monkeypatch):
    ragged = np.empty(2, dtype=object)
    ragged[:] = [[1], [2, 3]]
    cases = [
        (npz_bytes(x_train=ragged, y_train=np.array([0, 1])), "evil.npz", {}, "file", "object array"),
        (b"a,b\n1,2\n", "t.csv", {"label_column": "label"}, "label_column", "column 'label' not found; columns are a, b"),
        (b"x", "notes.txt", {}, "file", "must be a .npz, .csv or .zip"),
        (small_npz(), "s.npz", {"image_size": "999"}, "image_size", "≤ 256"),
    ]
    for content, filename, form, field, message in cases:
        response = upload(client, content, filename, **form)
        assert response.status_code == 422, response.text
        assert message in errors_by_field(response)[field]
    assert upload(client, small_npz(), "twice.npz").status_code == 201
    duplicate = upload(client, small_npz(), "twice.npz")
    assert duplicate.status_code == 409 and "exists already" in duplicate.json()["detail"]


def test_an_oversize_file_is_refused(client, monkeypatch):
    from backend.settings import get_settings

    monkeypatch.setenv("REGLAB_MAX_DATASET_MB", "1")
    get_settings.cache_clear()
    big = npz_bytes(x_train=np.zeros((1100, 1024), dtype="uint8"), y_train=np.arange(1100) % 2)
    response = upload(client, big, "big.npz")
    assert response.status_code == 422
    assert "larger than REGLAB_MAX_DATASET_MB = 1 MiB" in errors_by_field(response)["file"]
    assert client.get("/api/datasets").json()["items"] == []
