"""docker/worker-entrypoint.sh: one worker per GPU, pinned, and TERM reaches each of them.

A fake `nvidia-smi` lists the GPUs and a fake `reglab` records what it was
started with, so the script's logic is checked without a GPU or a container.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker/worker-entrypoint.sh"

FAKE_REGLAB = """#!/usr/bin/env bash
out="$RECORD_DIR/$$"
echo "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-unset} $*" > "$out"
trap 'echo TERM >> "$out"; exit 0' TERM
while true; do sleep 0.1; done
"""


@pytest.fixture
def fake_bin(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "reglab").write_text(FAKE_REGLAB)
    (bin_dir / "reglab").chmod(0o755)
    record = tmp_path / "record"
    record.mkdir()
    return bin_dir, record


def _start(bin_dir: Path, record: Path, gpus: list[str] | None, extra_env=None) -> subprocess.Popen:
    if gpus is not None:
        smi = bin_dir / "nvidia-smi"
        smi.write_text("#!/bin/sh\n" + "".join(f"echo {g}\n" for g in gpus))
        smi.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin", "RECORD_DIR": str(record), **(extra_env or {})}
    env.pop("REGLAB_GPUS", None)
    env.update(extra_env or {})
    return subprocess.Popen(["bash", str(ENTRYPOINT), "--loglevel", "WARNING"], env=env, stdout=subprocess.PIPE, text=True)


def _records(record: Path, count: int, marker: str | None = None, timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        texts = [p.read_text() for p in record.iterdir()]
        if len(texts) >= count and (marker is None or all(marker in t for t in texts)):
            return sorted(texts)
        time.sleep(0.05)
    raise AssertionError(f"expected {count} worker(s){' with ' + marker if marker else ''}, got {texts}")


def test_one_pinned_worker_per_gpu_and_term_forwarded(fake_bin):
    bin_dir, record = fake_bin
    proc = _start(bin_dir, record, ["0", "1"])
    try:
        started = _records(record, 2)
        assert started[0].startswith("CUDA_VISIBLE_DEVICES=0 worker --hostname gpu0@%h --loglevel WARNING")
        assert started[1].startswith("CUDA_VISIBLE_DEVICES=1 worker --hostname gpu1@%h --loglevel WARNING")
        proc.send_signal(signal.SIGTERM)
        _records(record, 2, marker="TERM")
        proc.wait(10)
    finally:
        proc.kill()


def test_explicit_gpu_list(fake_bin):
    bin_dir, record = fake_bin
    proc = _start(bin_dir, record, ["0", "1", "2"], {"REGLAB_GPUS": "2"})
    try:
        started = _records(record, 1)
        time.sleep(0.3)
        assert len(list(record.iterdir())) == 1
        assert started[0].startswith("CUDA_VISIBLE_DEVICES=2 worker --hostname gpu2@%h")
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    finally:
        proc.kill()


def test_no_gpu_falls_back_to_one_cpu_worker(fake_bin):
    bin_dir, record = fake_bin
    proc = _start(bin_dir, record, gpus=None)
    try:
        started = _records(record, 1)
        assert started[0].startswith("CUDA_VISIBLE_DEVICES= worker --hostname cpu@%h")
        # exec: the worker is the process itself, so `docker stop` signals it directly.
        proc.send_signal(signal.SIGTERM)
        _records(record, 1, marker="TERM")
        proc.wait(10)
    finally:
        proc.kill()
