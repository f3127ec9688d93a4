"""Where the domains plug into the core. This module imports no domain: each `<domain>/plugin.py`
registers what it brings (pipeline stages, API blueprints, CLI commands, the renderer, publish
checks, who else may see a generation, DSA categories of its decisions, the model files it loads,
start-up checks, demo data, web pages, services behind the interfaces of app/interfaces.py, the
case kinds it decides and the policy codes reviewers cite), and only the app factory and the CLI entry point import the plugins
(`app.factory.load_plugins`). The core then asks the registry, never a domain by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click
    from flask import Blueprint
    from sqlalchemy.orm import Session

    from app.interfaces import Renderer
    from app.model_files import ModelFile
    from app.models import Generation, User  # noqa: F401
    from app.runtime import Runtime
    from app.stage import Stage

# (session, generation) -> None; raises an app.errors.Conflict when the generation may not be published.
PublishCheck = Callable[["Session", "Generation"], None]
# (session, user id, generation id) -> True when that user shares ownership of the generation
# (sees its drafts, may delete it) besides its creator.
CoOwnership = Callable[["Session", str, str], bool]
# (runtime) -> problems that must stop `serve`, `worker` and `up` from starting.
StartupCheck = Callable[["Runtime"], list[str]]
# (session, demo users by handle) -> named objects the demo's generations refer to (e.g. cameo ids).
DemoSeeder = Callable[["Session", Mapping[str, "User"]], Mapping[str, str]]


@dataclass(frozen=True)
class Domain:
    name: str
    # Every stage the domain offers to the pipeline; app/pipeline.py orders them by name.
    stages: tuple["Stage", ...] = ()
    # Built when the app is: importing a domain's views must not be a cost of importing the plugin.
    blueprints: Callable[[], Iterable["Blueprint"]] | None = None
    commands: Callable[[], Iterable["click.Command"]] | None = None
    # Renders greenlit requests to MP4s (generator only): app.interfaces.Renderer, called by
    # app.orchestrator.render.
    renderer: "Renderer | None" = None
    publish_checks: tuple[PublishCheck, ...] = ()
    co_owners: tuple[CoOwnership, ...] = ()
    # DSA statement category and keywords of decisions that are not a stage's verdict
    # (a co-owner's deletion, a consent revocation), by the `stage` their reasons name.
    dsa_categories: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    model_files: Callable[[], Iterable["ModelFile"]] | None = None
    startup_checks: tuple[StartupCheck, ...] = ()
    demo: DemoSeeder | None = None
    # Web page blueprints mounted at the site root (review_ui), built when the app is.
    pages: Callable[[], Iterable["Blueprint"]] | None = None
    # Implementations of the interfaces in app/interfaces.py, keyed by interface: how the pages
    # reach a domain's data without importing it (Warehouse's find_service).
    services: Mapping[type, Callable[[], Any]] = field(default_factory=dict)
    # How the cases of a kind this domain owns are decided (app.cases), by kind.
    case_kinds: Mapping[str, Any] = field(default_factory=dict)
    # The policy codes a reviewer may cite on a decision in this domain: code -> title.
    policy_codes: Mapping[str, str] = field(default_factory=dict)
    # Keyed hash chains over the domain's append-only tables (app.chain.Chain): verified and
    # checkpointed with the audit log's.
    chains: tuple[Any, ...] = ()
    # The DSA category and keywords of a restriction a reviewer imposes under a policy code
    # (codes that find a violation; app.statements states the decision under them).
    policy_dsa_categories: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)


class RegistryError(RuntimeError):
    """A plugin or the pipeline is wired wrongly: raised at start, never on a request."""


_domains: dict[str, Domain] = {}
_stages: dict[str, "Stage"] = {}


def register(domain: Domain) -> Domain:
    """Idempotent for the same domain object (a plugin module may be imported twice in tests)."""
    known = _domains.get(domain.name)
    if known is domain:
        return domain
    if known is not None:
        raise RegistryError(f"domain {domain.name} registered twice")
    for stage in domain.stages:
        if not stage.name.startswith(f"{domain.name}."):
            raise RegistryError(f"stage {stage.name} must be named {domain.name}.<something>")
        if stage.name in _stages:
            raise RegistryError(f"stage {stage.name} registered twice")
    _domains[domain.name] = domain
    _stages.update({stage.name: stage for stage in domain.stages})
    return domain


def domains() -> tuple[Domain, ...]:
    return tuple(_domains.values())


def stage(name: str) -> "Stage":
    try:
        return _stages[name]
    except KeyError:
        loaded = ", ".join(sorted(_domains)) or "none (call app.factory.load_plugins first)"
        raise RegistryError(f"no stage named {name}; domains loaded: {loaded}") from None


def renderer() -> "Renderer":
    found = [d.renderer for d in _domains.values() if d.renderer is not None]
    if len(found) != 1:
        raise RegistryError(f"exactly one domain must register a renderer, found {len(found)}")
    return found[0]


def check_publishable(session: "Session", gen: "Generation") -> None:
    for domain in _domains.values():
        for check in domain.publish_checks:
            check(session, gen)


def is_co_owner(session: "Session", user_id: str, generation_id: str) -> bool:
    return any(rule(session, user_id, generation_id) for d in _domains.values() for rule in d.co_owners)


def dsa_category(stage_name: str) -> tuple[str, tuple[str, ...]] | None:
    """The DSA category a decision by `stage_name` falls under: declared on the stage, or by its
    domain for decisions that are not a stage's."""
    if stage_name in _stages:
        declared = _stages[stage_name]
        return declared.dsa_category, tuple(declared.dsa_keywords)
    for domain in _domains.values():
        if stage_name in domain.dsa_categories:
            return domain.dsa_categories[stage_name]
    return None


def model_files() -> list["ModelFile"]:
    return [m for d in _domains.values() if d.model_files is not None for m in d.model_files()]


def startup_problems(rt: "Runtime") -> list[str]:
    return [problem for d in _domains.values() for check in d.startup_checks for problem in check(rt)]


def pages() -> list["Blueprint"]:
    return [bp for d in _domains.values() if d.pages is not None for bp in d.pages()]


def service(interface: type) -> Any:
    """The one registered implementation of `interface` (app/interfaces.py)."""
    found = [d.services[interface] for d in _domains.values() if interface in d.services]
    if len(found) != 1:
        raise RegistryError(f"exactly one domain must provide {interface.__name__}, found {len(found)}")
    return found[0]()


def case_handler(kind: str) -> Any | None:
    for domain in _domains.values():
        if kind in domain.case_kinds:
            return domain.case_kinds[kind]
    return None


def policy_dsa_category(code: str) -> tuple[str, tuple[str, ...]] | None:
    for domain in _domains.values():
        if code in domain.policy_dsa_categories:
            return domain.policy_dsa_categories[code]
    return None


def policy_codes() -> dict[str, str]:
    return {code: title for d in _domains.values() for code, title in d.policy_codes.items()}


def reset() -> None:
    """Forget every registration (tests that register domains of their own)."""
    _domains.clear()
    _stages.clear()
