"""Greenlight core: app factory (app.factory.create_app), config, shared models, the pipeline and
its orchestrator, queues, API, CLI, the domain registry (app.domains) and the shared kit (app.kit)."""
