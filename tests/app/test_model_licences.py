"""GL_MODEL_LICENCES and GL_MODEL_DECLARED_LICENCES (app/model_licences.py)."""

from pathlib import Path

import pytest

from app.model_files import LicenceClass, ModelFile
from app.model_licences import LicencePolicy, declarations, licence_class_of, licence_problems
from app.stage import Stage


def record(licence: str, licence_class: LicenceClass, **kw) -> ModelFile:
    fields = dict(name="detector", role="detector", path=Path("/models/d.onnx"), version="d", licence=licence,
                  licence_class=licence_class, source="GL_D", variable="GL_D")
    return ModelFile(**{**fields, **kw})


class _Uses(Stage):
    def __init__(self, name: str, *models: str):
        self.name, self.version, self.models = name, "1", models

    def check(self, ctx):  # pragma: no cover - never run
        raise AssertionError


@pytest.mark.parametrize("spdx, expected", [
    ("MIT", LicenceClass.PERMISSIVE), ("apache-2.0", LicenceClass.PERMISSIVE),
    ("BSD-2-Clause", LicenceClass.PERMISSIVE), ("GPL-2.0-or-later", LicenceClass.COPYLEFT),
    ("AGPL-3.0-only", LicenceClass.COPYLEFT), ("LGPL-3.0-or-later", LicenceClass.COPYLEFT),
    ("CC-BY-NC-4.0", LicenceClass.NON_COMMERCIAL), ("CC-BY-NC-SA-4.0", LicenceClass.NON_COMMERCIAL),
    ("LicenseRef-insightface-non-commercial", LicenceClass.NON_COMMERCIAL),
    ("MIT OR Apache-2.0", LicenceClass.UNKNOWN), ("LicenseRef-vendor", LicenceClass.UNKNOWN),
])
def test_well_known_ids_are_classed(spdx, expected):
    assert licence_class_of(spdx) is expected


def test_the_default_allows_permissive_and_copyleft_only():
    policy = LicencePolicy.parse("")
    assert policy.allows(record("MIT", LicenceClass.PERMISSIVE))
    assert policy.allows(record("AGPL-3.0-only", LicenceClass.COPYLEFT))
    assert not policy.allows(record("CC-BY-NC-4.0", LicenceClass.NON_COMMERCIAL))
    assert not policy.allows(record("unknown", LicenceClass.UNKNOWN))


def test_an_spdx_refusal_covers_its_only_and_or_later_forms_and_wins():
    policy = LicencePolicy.parse("permissive, copyleft, -AGPL-3.0")
    assert not policy.allows(record("AGPL-3.0-only", LicenceClass.COPYLEFT))
    assert not policy.allows(record("agpl-3.0-or-later", LicenceClass.COPYLEFT))
    assert policy.allows(record("GPL-2.0-or-later", LicenceClass.COPYLEFT))
    # An id allowed by name passes although its class is not allowed; a refused class still wins.
    assert LicencePolicy.parse("permissive,CC-BY-NC-4.0").allows(record("CC-BY-NC-4.0", LicenceClass.NON_COMMERCIAL))
    assert not LicencePolicy.parse("MIT,-permissive").allows(record("MIT", LicenceClass.PERMISSIVE))
    with pytest.raises(ValueError, match="GL_MODEL_LICENCES"):
        LicencePolicy.parse("permissive,-")


def test_declarations_name_a_model_a_licence_and_maybe_a_class():
    assert declarations("speech-to-text=MIT, face-embedder=LicenseRef-insightface-commercial:permissive") == {
        "speech-to-text": ("MIT", LicenceClass.PERMISSIVE),
        "face-embedder": ("LicenseRef-insightface-commercial", LicenceClass.PERMISSIVE),
    }
    assert declarations("x=LicenseRef-odd") == {"x": ("LicenseRef-odd", LicenceClass.UNKNOWN)}
    assert declarations("") == {}
    with pytest.raises(ValueError, match="GL_MODEL_DECLARED_LICENCES"):
        declarations("speech-to-text")


def test_a_refused_model_names_its_stages_and_the_ways_out():
    refused = record("AGPL-3.0-only", LicenceClass.COPYLEFT)
    policy = LicencePolicy.parse("permissive")
    (problem,) = licence_problems([refused], [_Uses("x.one", "detector"), _Uses("x.two", "detector"),
                                              _Uses("x.other", "other")], policy)
    assert problem.startswith("detector (d.onnx) is under AGPL-3.0-only (copyleft), which "
                              "GL_MODEL_LICENCES=permissive refuses; stages x.one, x.two load it")
    assert "GL_STAGES_OFF=x.one,x.two" in problem and "set GL_D to a model under an allowed licence" in problem
    # Nothing that runs loads it: no problem.
    assert licence_problems([refused], [_Uses("x.other", "other")], policy) == []


def test_a_refused_model_loaded_outside_the_pipeline_cannot_be_switched_off():
    refused = record("unknown", LicenceClass.UNKNOWN, used_by=("likeness enrolment",))
    (problem,) = licence_problems([refused], [], LicencePolicy.parse(""))
    assert "states no licence" in problem and "likeness enrolment load it" in problem
    assert "GL_STAGES_OFF" not in problem and "declare its licence in GL_MODEL_DECLARED_LICENCES" in problem
