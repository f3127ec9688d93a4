"""Greenlight core: app factory, config, shared models, the pipeline, queues, API, CLI."""


def create_app(*args, **kwargs):
    # Imported lazily: domain packages import app.stage / app.models, and the factory imports
    # the domain packages (through the pipeline); an eager import here would be circular.
    from app.factory import create_app as _create_app
    return _create_app(*args, **kwargs)
