"""Settings of the API server: the client's and worker's (:mod:`reglab.settings`) and the server's own.

Every field is read from a ``REGLAB_*`` environment variable; nothing else
configures RegLab, so the same code runs embedded (`make run`) and in the
docker-compose stack.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from reglab.settings import ClientSettings, get_client_settings


class Settings(ClientSettings):
    # URL, TOKEN, DATA_DIR, REDIS_URL, TRAIN_QUEUE, WORKER_CONCURRENCY, HEARTBEAT_TIMEOUT_S
    # and CHECKPOINT_INTERVAL_S come from ClientSettings.
    DATABASE_URL: str | None = Field(
        None, description="SQLAlchemy URL; defaults to SQLite under DATA_DIR"
    )

    MAX_RUNS_PER_EXPERIMENT: int = Field(256, ge=1, le=10_000)
    # Trials a search study may ask for (each trial trains `replicates` runs).
    MAX_TRIALS_PER_EXPERIMENT: int = Field(500, ge=1, le=10_000)
    MAX_EPOCHS: int = Field(1000, ge=1, le=100_000)
    # Largest model (parameters, counted from the spec) a run may train; bigger ones would exhaust a worker's memory.
    MAX_PARAMS: int = Field(20_000_000, ge=1)
    # Prefix of every Redis key and channel RegLab uses, so deployments (or test
    # sessions) can share one Redis without hearing each other.
    CHANNEL_PREFIX: str = "reglab"
    # Attempts a run gets when its workers die: a lost attempt is re-queued to resume
    # from its checkpoint until this many were lost, then the run is failed.
    MAX_ATTEMPTS: int = Field(3, ge=1, le=100)
    # How often the API retries dispatching runs that were queued while the broker was away.
    DISPATCH_INTERVAL_S: float = Field(5.0, gt=0)
    # A queued run sent this long ago that no worker claimed is sent again (its worker may have died holding
    # the task, which the broker would redeliver only after its visibility timeout); default HEARTBEAT_TIMEOUT_S.
    DISPATCH_TIMEOUT_S: float | None = Field(None, gt=0)
    BROKER_TIMEOUT_S: float = Field(1.0, gt=0)
    # Uploaded datasets: the file, and what its arrays may hold once decoded.
    MAX_DATASET_MB: int = Field(512, ge=1, le=65_536, description="Largest dataset file accepted, in MiB")
    MAX_DATASET_EXAMPLES: int = Field(1_000_000, ge=10)
    MAX_DATASET_FEATURES: int = Field(196_608, ge=1, description="Values per example (256x256x3 by default)")
    MAX_DATASET_CLASSES: int = Field(1000, ge=2)
    # Who may do what: off (no tokens; `make run` binds 127.0.0.1), write (reads open,
    # writes need a token), all (every route but health needs one; the compose stack).
    AUTH: Literal["off", "write", "all"] = "off"
    AUTH_FAILURES_PER_MINUTE: int = Field(10, ge=1, le=100_000)
    # How long an API process trusts a token it has checked, i.e. how long a revoked token may still work.
    AUTH_CACHE_S: float = Field(5.0, ge=0, le=3600)

    @field_validator("DATABASE_URL")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError(f"REGLAB_DATABASE_URL must be sqlite or postgresql, got {value!r}")
        return value

    @property
    def database_url(self) -> str:
        if self.DATABASE_URL:
            return self.DATABASE_URL
        return f"sqlite:///{(self.DATA_DIR / 'reglab.db').resolve()}"

    @property
    def dispatch_timeout_s(self) -> float:
        return self.DISPATCH_TIMEOUT_S if self.DISPATCH_TIMEOUT_S is not None else self.HEARTBEAT_TIMEOUT_S

    @property
    def artifacts_dir(self) -> Path:
        return self.DATA_DIR / "artifacts"

    @property
    def datasets_dir(self) -> Path:
        return self.DATA_DIR / "datasets"

    @property
    def logs_dir(self) -> Path:
        return self.DATA_DIR / "logs"


@lru_cache
def get_settings() -> Settings:
    return Settings()


def _clear_both() -> None:
    # One switch for tests that change REGLAB_* variables: the server's settings and
    # the client settings the worker code reads in the same process are re-read together.
    _cached_settings_clear()
    get_client_settings.cache_clear()


_cached_settings_clear = get_settings.cache_clear
get_settings.cache_clear = _clear_both  # type: ignore[method-assign]
