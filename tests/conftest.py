"""Fixtures for a real database, broker, worker and server live in tests/fixtures/."""

import os

# Tests never reach the network and never need a GPU.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.api",
    "tests.fixtures.worker",
    "tests.fixtures.auth",
]
