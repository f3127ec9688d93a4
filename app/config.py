"""Configuration from environment variables, with defaults that run on one machine."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    return int(raw) if raw not in (None, "") else default


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Config:
    instance_dir: Path
    database_url: str
    # None means the embedded queue: RQ over an in-process fakeredis, worked by a thread.
    redis_url: str | None
    media_dir: Path
    secret_key: str
    max_request_bytes: int = 1 * 1024 * 1024
    # Pre-render gating runs inside POST /generations so the caller gets the verdicts at once;
    # when it raises, the gate job on the `gate` queue takes over with retries.
    gate_inline: bool = True
    job_retries: int = 3
    retry_intervals: tuple[int, ...] = (2, 10, 60)
    job_timeout_s: int = 600
    # An in-flight generation untouched this long is re-enqueued by the recovery sweep.
    stall_after_s: int = 300
    worker_poll_s: float = 0.25
    render_seconds: float = 3.0
    render_fps: int = 24
    extra: dict[str, str] = field(default_factory=dict)
    # Pipeline stages that neither run nor are required (GL_STAGES_OFF, comma-separated names).
    stages_off: frozenset[str] = frozenset()
    # Licences models may be under ("": the default there) and the operator's word on theirs
    # (GL_MODEL_LICENCES, GL_MODEL_DECLARED_LICENCES: app/model_licences.py).
    model_licences: str = ""
    model_declared_licences: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Config":
        env = dict(os.environ if env is None else env)
        instance = Path(env.get("GL_INSTANCE_DIR") or Path.cwd() / "instance").resolve()
        database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'greenlight.db'}"
        intervals = env.get("GL_RETRY_INTERVALS")
        cfg = cls(
            instance_dir=instance,
            database_url=database_url,
            redis_url=env.get("REDIS_URL") or None,
            media_dir=Path(env.get("GL_MEDIA_DIR") or instance / "media").resolve(),
            secret_key=env.get("GL_SECRET_KEY") or "",
            max_request_bytes=_int(env, "GL_MAX_REQUEST_BYTES", 1 * 1024 * 1024),
            gate_inline=_bool(env, "GL_GATE_INLINE", True),
            job_retries=_int(env, "GL_JOB_RETRIES", 3),
            retry_intervals=tuple(int(x) for x in intervals.split(",")) if intervals else (2, 10, 60),
            job_timeout_s=_int(env, "GL_JOB_TIMEOUT_S", 600),
            stall_after_s=_int(env, "GL_STALL_AFTER_S", 300),
            worker_poll_s=float(env.get("GL_WORKER_POLL_S") or 0.25),
            render_seconds=float(env.get("GL_RENDER_SECONDS") or 3.0),
            render_fps=_int(env, "GL_RENDER_FPS", 24),
            stages_off=frozenset(filter(None, (n.strip() for n in env.get("GL_STAGES_OFF", "").split(",")))),
            model_licences=env.get("GL_MODEL_LICENCES") or "",
            model_declared_licences=env.get("GL_MODEL_DECLARED_LICENCES") or "",
        )
        return replace(cfg, **overrides) if overrides else cfg

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def ensure_secret_key(self) -> "Config":
        """Use GL_SECRET_KEY, else a key generated once into the instance folder (never in git)."""
        if self.secret_key:
            return self
        self.instance_dir.mkdir(parents=True, exist_ok=True)
        key_file = self.instance_dir / "secret_key"
        if not key_file.exists():
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return replace(self, secret_key=key_file.read_text().strip())
