"""The layers: reglab/ is the client and the shared contract, worker/ builds on it, backend/ on both.

``worker/`` and ``reglab/`` never import ``backend``; ``reglab/`` imports no
server package. The one exception is by design: ``reglab.cli.main`` plugs in
the server's and the worker's commands by module *name* (importlib), so a
client-only install still runs.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVER_PACKAGES = ("backend", "fastapi", "sqlalchemy", "celery", "alembic", "uvicorn", "starlette")


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{path.relative_to(ROOT)} imports {root}"
        for path in (ROOT / package).rglob("*.py")
        for root in imported_roots(path) & set(forbidden)
    )


def test_worker_never_imports_the_server():
    assert offenders("worker", ("backend", "fastapi", "sqlalchemy", "alembic")) == []


def test_reglab_imports_no_server_package():
    assert offenders("reglab", ("backend", "fastapi", "sqlalchemy", "celery", "alembic")) == []


def test_the_check_sees_an_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from backend.settings import get_settings\n")
    assert imported_roots(sample) == {"backend"}


def test_importing_the_client_loads_no_server_package():
    code = (
        "import sys, reglab.client, reglab.spec, reglab.states, reglab.settings, reglab.datasets, reglab.cli.submit;"
        f"print([m for m in sys.modules if m.split('.')[0] in {SERVER_PACKAGES!r}])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_a_plain_install_is_the_client_only(tmp_path):
    """`pip install .` without extras, in a fresh virtualenv: the client works, no server package came with it."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    pip_env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pip_env.pop("PYTHONPATH", None)
    source = tmp_path / "src"
    # The working tree as it is (a copy, so the build's egg-info stays out of it).
    ignore = lambda d, names: [n for n in names if n in {".venv", ".git", "node_modules", "data", "build", "test-output"}]  # noqa: E731
    import shutil

    shutil.copytree(ROOT, source, ignore=ignore, symlinks=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(source)], env=pip_env, check=True, timeout=600)
    code = (
        "import sys, reglab.client, reglab.spec, reglab.cli.main;"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {SERVER_PACKAGES!r}]; assert not bad, bad"
    )
    subprocess.run([str(python), "-c", code], env=pip_env, cwd=tmp_path, check=True, timeout=60)
    shown = subprocess.run([str(python), "-m", "pip", "show", "fastapi", "sqlalchemy", "celery", "alembic", "uvicorn"],
                           env=pip_env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert shown.returncode != 0 and "Name:" not in shown.stdout
    # The server's commands say which extra brings them, in one line.
    up = subprocess.run([str(env_dir / "bin" / "reglab"), "up"], env=pip_env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert up.returncode == 2 and up.stderr.strip().count("\n") == 0
    assert "pip install 'reglab[server]'" in up.stderr
