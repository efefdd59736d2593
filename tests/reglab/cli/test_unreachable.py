"""Every REST command explains an unreachable API in one line and exits 1."""

import os
import subprocess
import sys

import pytest

from tests.fixtures.services import free_port


@pytest.mark.parametrize(
    "command", [["ls"], ["show", "1"], ["cancel", "1"], ["compare", "1", "2"]], ids=lambda c: c[0]
)
def test_unreachable_api_is_explained(command):
    url = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "REGLAB_URL": url}
    out = subprocess.run([sys.executable, "-m", "reglab.cli.main", *command], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert out.stderr.startswith(f"error: cannot reach the RegLab API at {url}")
    assert "reglab up" in out.stderr and "REGLAB_URL" in out.stderr
    assert "Traceback" not in out.stderr
