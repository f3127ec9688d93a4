"""The whole pipeline in one place: what runs before any GPU time is spent, and after.

Stages are named here and implemented in their domain packages, which register them through
their plugin (app.domains); adding a gate is one line here plus its own module and tests.
`check_order` (run when the plugins load) refuses a list in which a stage needs a fact that no
earlier stage in the same list produces. An operator may switch stages off (GL_STAGES_OFF): they
neither run nor count as producers, and the start-up check (app/start_checks.py) runs the same
order check on what is left.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from app import domains
from app.stage import Stage

PRE_RENDER: tuple[str, ...] = (
    "safety.prompt",            # terms and the meaning of the prompt (MiniLM vs labelled exemplars), per category
    "safety.input_image",       # no nudity in the input image (nudenet's detector)
    "safety.input_hashes",      # the input image is not known media in a hash bank
    "likeness.cameo_consent",   # every requested cameo is active and allows this requester
    "likeness.input_faces",     # every face in an input image is a cameo that allows this requester
    "likeness.named_cameos",    # naming an enrolled person (@handle, full name) needs their cameo
    "likeness.public_figures",  # no public figure unless they enrolled and allow it
    "copyright.rights",         # works are default-deny unless their rightsholder's policy allows this use
)

POST_RENDER: tuple[str, ...] = (
    "generator.media_integrity",  # the file is a playable H.264 + AAC MP4 of the expected length
    "generator.fingerprints",     # every frame's PDQ into the platform's bank of its outputs (greenlight trace)
    "likeness.cameo_consent",     # consent still holds (a cameo revoked while rendering blocks)
    "likeness.face_scan",         # every face on screen (2 frames/s) is a declared, consenting cameo
    "safety.frame_hashes",        # no frame is known media in a hash bank
    "safety.frames",              # no nudity in the frames (nudenet's detector, the same 2 frames/s)
    "safety.audio",               # what is said (Silero VAD + speech-to-text) through the prompt classifier
    "copyright.frames",           # works on screen under their policy (its restrictions see what safety found)
)


def stages(names: Iterable[str], off: Collection[str] = ()) -> tuple[Stage, ...]:
    """The stages named, less those the operator switched off (Config.stages_off, GL_STAGES_OFF)."""
    return tuple(domains.stage(name) for name in names if name not in off)


def order_problems(names: Iterable[str], off: Collection[str] = ()) -> list[str]:
    """Every fact a running stage needs is produced by a running stage before it in the same list.
    A need that only switched-off stages met is named as such: switching a stage off must not leave
    a later one deciding on facts nobody looked for."""
    produced: set[str] = set()
    only_off: dict[str, list[str]] = {}  # fact -> the switched-off stages before this point that produce it
    problems = []
    for name in names:
        stage = domains.stage(name)
        if name in off:
            for fact in stage.produces:
                only_off.setdefault(fact, []).append(name)
            continue
        missing = sorted(set(stage.needs) - produced)
        unmet = [fact for fact in missing if fact not in only_off]
        if unmet:
            problems.append(f"{stage.name} needs {', '.join(unmet)}, which no earlier stage produces")
        switched = [fact for fact in missing if fact in only_off]
        if switched:
            producers = sorted({p for fact in switched for p in only_off[fact]})
            problems.append(f"{stage.name} needs {', '.join(switched)}, which only {', '.join(producers)} "
                            f"produced before it, and GL_STAGES_OFF switches that off: switch {stage.name} off "
                            f"too, or one of them back on")
        produced |= set(stage.produces)
    return problems


def check_order(names: Iterable[str], off: Collection[str] = ()) -> None:
    problems = order_problems(names, off)
    if problems:
        raise domains.RegistryError("pipeline out of order: " + "; ".join(problems))
