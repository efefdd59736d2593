"""What a client or a worker is configured with: the API, its token, a data directory, the broker.

Every field is read from a ``REGLAB_*`` environment variable. The server's
settings (:mod:`backend.settings`) extend this class, so each of these
settings has one definition and one default, whichever side reads it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ClientSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGLAB_", extra="ignore")

    URL: str = Field("http://127.0.0.1:8000", description="Where the CLI and the workers find the API")
    # The token clients (the CLI, a worker) send when none is passed explicitly.
    TOKEN: str | None = Field(None, repr=False)
    DATA_DIR: Path = Field(Path("data"), description="SQLite database, model artifacts and logs")
    REDIS_URL: str = Field("redis://127.0.0.1:6379/0", description="Celery broker and live updates")
    TRAIN_QUEUE: str = "train"
    WORKER_CONCURRENCY: int = Field(1, ge=1, le=64)
    # A running run whose heartbeat is older than this is taken to have lost its worker.
    HEARTBEAT_TIMEOUT_S: float = Field(120.0, gt=0)
    # Least seconds between two resume checkpoints of a run: saving after every tiny
    # epoch would cost more than the 2% tracking budget; 0 saves after every epoch.
    CHECKPOINT_INTERVAL_S: float = Field(10.0, ge=0)

    @property
    def heartbeat_interval_s(self) -> float:
        # Often enough that a cancel is heard within a second, and a few beats per
        # timeout so one slow request never looks like death.
        return min(1.0, self.HEARTBEAT_TIMEOUT_S / 4)

    @property
    def dataset_cache_dir(self) -> Path:
        """Where a worker keeps the uploaded datasets it fetched, by content hash."""
        return self.DATA_DIR / "dataset-cache"


@lru_cache
def get_client_settings() -> ClientSettings:
    return ClientSettings()
