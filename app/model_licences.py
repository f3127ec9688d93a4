"""Which licences the platform's models may be under, and what an operator declares about theirs.

GL_MODEL_LICENCES lists what is allowed: licence classes (permissive, copyleft, non-commercial,
unknown) and SPDX ids, comma-separated; an entry with a leading "-" refuses, and a refusal wins.
The default, "permissive,copyleft", refuses non-commercial terms and licences nobody stated. Every
bundled model's licence is recorded (docs/LICENSES.md), so "unknown" only ever names a file an
operator configured without declaring its licence: the service will not start on a model whose
terms nobody looked at. Examples:

    GL_MODEL_LICENCES=permissive,copyleft,-AGPL-3.0     # no AGPL model (nudenet's 320n.onnx)
    GL_MODEL_LICENCES=permissive                         # no copyleft at all (PyAV's GPL x264 too)

An SPDX entry also covers its -only/-or-later forms ("AGPL-3.0" refuses "AGPL-3.0-only").

GL_MODEL_DECLARED_LICENCES states the licence of a configured file (or overrides a recorded one,
e.g. after buying an Ultralytics licence): `<model>=<SPDX id>[:<class>]`, comma-separated, the
model named as in `greenlight models list`; without a class, well-known SPDX ids are classed here:

    GL_MODEL_DECLARED_LICENCES=speech-to-text=MIT,face-embedder=LicenseRef-insightface:non-commercial
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.model_files import LicenceClass, ModelFile, UsesModels, stages_using

DEFAULT_ALLOWED = "permissive,copyleft"
POLICY_VARIABLE = "GL_MODEL_LICENCES"
DECLARATIONS_VARIABLE = "GL_MODEL_DECLARED_LICENCES"

_PERMISSIVE = frozenset(s.casefold() for s in (
    "MIT", "MIT-0", "MIT-CMU", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "ISC", "Zlib", "BSL-1.0",
    "CC0-1.0", "CC-BY-4.0", "Unlicense", "PSF-2.0", "HPND",
))
_COPYLEFT_FAMILIES = ("gpl-", "lgpl-", "agpl-", "mpl-", "epl-", "eupl-", "cc-by-sa-", "osl-")
_NON_COMMERCIAL_MARKS = ("-nc-", "noncommercial", "non-commercial")
_SUFFIXES = ("-only", "-or-later")


def licence_class_of(spdx: str) -> LicenceClass:
    """The class of a well-known SPDX id; UNKNOWN for anything else (an expression, a LicenseRef)."""
    ident = spdx.strip().casefold()
    if ident.endswith("-nc") or any(mark in ident for mark in _NON_COMMERCIAL_MARKS):
        return LicenceClass.NON_COMMERCIAL
    if ident in _PERMISSIVE:
        return LicenceClass.PERMISSIVE
    if ident.startswith(_COPYLEFT_FAMILIES):
        return LicenceClass.COPYLEFT
    return LicenceClass.UNKNOWN


def _names(licence: str) -> set[str]:
    """What an entry may call a licence: its id, and the id without -only/-or-later."""
    ident = licence.strip().casefold()
    return {ident} | {ident.removesuffix(s) for s in _SUFFIXES if ident.endswith(s)}


def _entries(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


@dataclass(frozen=True)
class LicencePolicy:
    allowed: frozenset[str]
    refused: frozenset[str]
    text: str

    @classmethod
    def parse(cls, text: str | None) -> "LicencePolicy":
        text = (text or "").strip() or DEFAULT_ALLOWED
        allowed, refused = set(), set()
        for entry in _entries(text):
            name = entry.removeprefix("-").strip().casefold()
            if not name:
                raise ValueError(f"{POLICY_VARIABLE}={text!r}: a lone '-' names nothing")
            (refused if entry.startswith("-") else allowed).add(name)
        return cls(frozenset(allowed), frozenset(refused), text)

    def allows(self, record: ModelFile) -> bool:
        names = _names(record.licence) | {record.licence_class.value}
        return not names & self.refused and bool(names & self.allowed)


def declarations(text: str | None) -> dict[str, tuple[str, LicenceClass]]:
    """GL_MODEL_DECLARED_LICENCES parsed: model name -> (SPDX id, class)."""
    out: dict[str, tuple[str, LicenceClass]] = {}
    for entry in _entries(text or ""):
        name, _, licence = (part.strip() for part in entry.partition("="))
        if not name or not licence:
            raise ValueError(f"{DECLARATIONS_VARIABLE}: {entry!r} is not <model>=<SPDX id>[:<class>]")
        spdx, _, stated = licence.rpartition(":")
        if spdx and stated.strip() in {c.value for c in LicenceClass}:
            out[name] = (spdx.strip(), LicenceClass(stated.strip()))
        else:
            out[name] = (licence, licence_class_of(licence))
    return out


def _terms(record: ModelFile) -> str:
    if record.licence_class is LicenceClass.UNKNOWN and record.licence.casefold() == "unknown":
        return "states no licence"
    return f"is under {record.licence} ({record.licence_class})"


def _ways_out(record: ModelFile, stages: list[str]) -> list[str]:
    ways = []
    if stages and not record.used_by:  # switching stages off helps only when nothing else loads it
        ways.append(f"switch {'them' if len(stages) > 1 else 'it'} off (GL_STAGES_OFF={','.join(stages)})")
    if record.variable:
        ways.append(f"set {record.variable} to a model under an allowed licence")
    else:
        ways.append(f"replace {record.source} ({record.licence_note})")
    if record.licence_class is LicenceClass.UNKNOWN or record.licence_declared:
        ways.append(f"declare its licence in {DECLARATIONS_VARIABLE}")
    return ways


def licence_problems(records: Iterable[ModelFile], active_stages: Iterable[UsesModels],
                     policy: LicencePolicy) -> list[str]:
    """A line per refused model that something loads: the running stages that use it, or a loader
    outside the pipeline (enrolment, the renderer). A refused model that nothing running loads is
    no problem: that is how switching its stages off (GL_STAGES_OFF) lets the service start."""
    users = stages_using(active_stages)
    problems = []
    for record in records:
        stages = users.get(record.name, [])
        if policy.allows(record) or not (stages or record.used_by):
            continue
        loaders = [f"stage{'s' if len(stages) > 1 else ''} {', '.join(stages)}"] if stages else []
        loaders += record.used_by
        problems.append(f"{record.name} ({record.path.name}) {_terms(record)}, which {POLICY_VARIABLE}="
                        f"{policy.text} refuses; {', '.join(loaders)} load it: "
                        f"{' or '.join(_ways_out(record, stages))}")
    return problems


def unknown_declarations(declared: dict[str, tuple[str, LicenceClass]], records: Iterable[ModelFile]) -> list[str]:
    names = {record.name for record in records}
    return [f"{DECLARATIONS_VARIABLE} declares a licence for {name}, which is no model here "
            f"(see greenlight models list)" for name in declared if name not in names]
