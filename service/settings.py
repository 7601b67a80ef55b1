"""All configuration, read from the environment once, in one frozen object."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _data_dir() -> Path:
    return Path(os.environ.get("TAGUNG_DATA_DIR", PROJECT_ROOT / "var")).resolve()


def _secret_key(data_dir: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept under var/.

    Kept on disk so that sessions survive a restart and every worker process agrees on it.
    """
    configured = os.environ.get("SECRET_KEY")
    if configured:
        return configured
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    smtp_url: str
    base_url: str
    secret_key: str
    data_dir: Path
    db_pool_size: int = 10
    db_connect_timeout: float = 3.0
    debug: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = _data_dir()
        return cls(
            database_url=os.environ.get("DATABASE_URL") or None,
            smtp_url=os.environ.get("SMTP_URL", "smtp://127.0.0.1:8025"),
            base_url=os.environ.get("BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            secret_key=_secret_key(data_dir),
            data_dir=data_dir,
            db_pool_size=int(os.environ.get("DB_POOL_SIZE", "10")),
            debug=os.environ.get("TAGUNG_DEBUG", "") == "1",
        )
