"""RQ entry points. Thin: the work and its idempotency live in app.orchestrator.

A worker process may not have built the app: each job makes sure the domains are registered."""

from __future__ import annotations

import logging

from app import orchestrator, runtime
from app.factory import load_plugins

log = logging.getLogger(__name__)


def gate_job(generation_id: str):
    load_plugins()
    return orchestrator.gate(runtime.current(), generation_id)


def render_job(generation_id: str):
    load_plugins()
    return orchestrator.render(runtime.current(), generation_id)


def scan_job(generation_id: str):
    load_plugins()
    return orchestrator.scan(runtime.current(), generation_id)


def on_job_failure(job, connection, exc_type, exc_value, traceback) -> None:
    """Called by RQ on each failed attempt; after the last one the generation shows `failed`."""
    if job.should_retry:
        return
    generation_id = job.args[0]
    error = f"{job.origin} job failed: {exc_type.__name__}: {exc_value}"
    if orchestrator.mark_failed(runtime.current(), generation_id, error):
        log.warning("generation %s failed: %s", generation_id, error)
