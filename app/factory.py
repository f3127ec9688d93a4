"""The Flask application factory, and the one place that loads the domain plugins."""

from __future__ import annotations

import importlib
import logging

from flask import Flask, jsonify
from werkzeug.middleware.proxy_fix import ProxyFix

from app import runtime
from app.config import Config, setting

# Every domain plugs in through its plugin module (app.domains); nothing else in app/ imports a domain.
PLUGINS = ("safety.plugin", "likeness.plugin", "copyright.plugin", "generator.plugin", "review_ui.plugin")


_loaded = False


def load_plugins() -> None:
    """Import every plugin once (each registers its domain), then check the pipeline's order."""
    global _loaded
    if _loaded:
        return
    from app import pipeline

    for module in PLUGINS:
        importlib.import_module(module)
    pipeline.check_order(pipeline.PRE_RENDER)
    pipeline.check_order(pipeline.POST_RENDER)
    _loaded = True


def create_app(config: Config | None = None, *, start_worker: bool = False) -> Flask:
    """Build the app. `start_worker` runs the embedded queue worker on a thread (embedded queue only)."""
    # Tests and the CLI configure the runtime first; a bare create_app() reads the environment.
    load_plugins()
    rt = runtime.configure(config) if config is not None or not runtime.is_configured() else runtime.current()
    app = Flask(__name__, instance_path=str(rt.config.instance_dir))
    app.config.update(SECRET_KEY=rt.config.secret_key, MAX_CONTENT_LENGTH=rt.config.max_request_bytes,
                      JSON_SORT_KEYS=False)
    app.json.sort_keys = False
    # Path and query text is checked before any view reads it (control characters: 422, never a 500).
    from app import inputs
    app.before_request(inputs.check_request)

    from app.api import build_blueprint, register_error_handlers
    app.register_blueprint(build_blueprint())
    from app import domains
    for blueprint in domains.pages():
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    hops = setting("GL_PROXY_HOPS")
    if hops:
        # Login throttling keys on the client's address: behind proxies it is in X-Forwarded-For.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    @app.get("/")
    def index():
        return jsonify({"service": "greenlight", "api": "/api/v1", "openapi": "/api/v1/openapi.json"})

    if start_worker:
        start_embedded_worker(app, rt)
    return app


def start_embedded_worker(app: Flask, rt: runtime.Runtime):
    from app import orchestrator
    from app.queues import EmbeddedWorker

    if not rt.queues.embedded:
        raise RuntimeError("REDIS_URL is set: run `greenlight worker` processes instead of an embedded worker")
    # The embedded queue starts empty: whatever was in flight when the process last stopped
    # resumes, and the partial files of its renders go.
    resumed, removed = orchestrator.recovery_pass(rt, older_than_s=0) or (0, 0)
    if resumed or removed:
        logging.getLogger(__name__).info("resumed %d in-flight generations, removed %d partial files",
                                         resumed, removed)
    worker = EmbeddedWorker(rt.queues, poll_s=rt.config.worker_poll_s)
    worker.start()
    recovery = orchestrator.RecoveryLoop(rt)
    recovery.start()
    app.extensions["greenlight.worker"] = worker
    app.extensions["greenlight.recovery"] = recovery
    return worker
