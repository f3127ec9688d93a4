"""The registry the domains plug into, and the pipeline's order of facts."""

from __future__ import annotations

import pytest

from app import domains, orchestrator, pipeline, statements
from app.stage import Decision, Stage, Verdict
from tests.conftest import plug_stage


class Teller(Stage):
    name, version, produces = "test.teller", "1", ("content.violence",)

    def check(self, ctx):
        return Verdict(Decision.ALLOW, facts={"content.violence": True})


class Listener(Stage):
    name, version, needs = "test.listener", "1", ("content.violence",)

    def check(self, ctx):
        return Verdict.allow({"heard": float(ctx.fact("content.violence"))})


class Liar(Stage):
    name, version = "test.liar", "1"  # declares nothing, sets a fact anyway

    def check(self, ctx):
        return Verdict(Decision.ALLOW, facts={"content.sexual": True})


@pytest.fixture
def plugged(monkeypatch):
    for stage in (Teller(), Listener(), Liar()):
        plug_stage(monkeypatch, stage)


def test_the_shipped_lists_are_in_order():
    pipeline.check_order(pipeline.PRE_RENDER)
    pipeline.check_order(pipeline.POST_RENDER)
    # The licence restrictions after rendering see what the frames and the audio showed.
    post = list(pipeline.POST_RENDER)
    assert post.index("copyright.frames") > max(post.index("safety.frames"), post.index("safety.audio"))


def test_a_need_produced_later_or_never_is_refused(plugged):
    pipeline.check_order(("test.teller", "test.listener"))
    with pytest.raises(domains.RegistryError, match="test.listener needs content.violence"):
        pipeline.check_order(("test.listener", "test.teller"))
    with pytest.raises(domains.RegistryError, match="no earlier stage"):
        pipeline.check_order(("test.listener",))


def test_facts_flow_forward_and_undeclared_facts_are_refused(plugged):
    from app.stage import Requester, StageContext

    ctx = StageContext("g", "p", [], None, Requester("u", "u", False), None)  # type: ignore[arg-type]
    teller, listener = orchestrator.run_stages(pipeline.stages(("test.teller", "test.listener")), ctx)
    assert listener.scores == {"heard": 1.0} and ctx.facts == {"content.violence": True}
    with pytest.raises(domains.RegistryError, match="does not declare"):
        orchestrator.run_stages(pipeline.stages(("test.liar",)), ctx)


def test_an_unknown_stage_names_the_loaded_domains():
    with pytest.raises(domains.RegistryError, match="no stage named nowhere.stage; domains loaded: .*likeness"):
        pipeline.stages(("nowhere.stage",))


def test_a_domain_registers_only_stages_in_its_own_name():
    class Stray(Stage):
        name, version = "safety.stray", "1"

        def check(self, ctx):
            return Verdict.allow()

    with pytest.raises(domains.RegistryError, match="must be named elsewhere"):
        domains.register(domains.Domain(name="elsewhere", stages=(Stray(),)))
    assert "elsewhere" not in {d.name for d in domains.domains()}


def test_statements_take_the_category_the_deciding_stage_declares():
    assert statements.categorise([{"stage": "likeness.face_scan", "code": "x"}]) == (
        "STATEMENT_CATEGORY_CYBER_VIOLENCE", ["KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE"])
    assert statements.categorise([{"stage": "copyright.claim", "code": "x"}])[0] == \
        "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS"
    # A reason naming its own category (a safety finding) wins over its stage's.
    assert statements.categorise([{"stage": "safety.prompt", "code": "safety_violence_gore",
                                   "details": {"dsa_category": "STATEMENT_CATEGORY_VIOLENCE"}}])[0] == \
        "STATEMENT_CATEGORY_VIOLENCE"
    assert statements.categorise([{"stage": "unknown.thing", "code": "x"}])[0] == \
        "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"


def test_every_registered_stage_and_policy_code_declares_a_current_dsa_category():
    from app import dsa

    declared = [(s.name, s.dsa_category, s.dsa_keywords) for d in domains.domains() for s in d.stages]
    declared += [(k, *v) for d in domains.domains() for k, v in (*d.dsa_categories.items(),
                                                                 *d.policy_dsa_categories.items())]
    assert len(declared) > 20
    for name, category, keywords in declared:
        assert category in dsa.categories(), (name, category)
        assert all(dsa.keyword_fits(k, category) for k in keywords), (name, category, keywords)
    # every policy code that finds a violation says what the restriction is stated as
    violating = {c for d in domains.domains() for c in d.policy_codes} - {
        "LIKENESS-CONSENTED", "LIKENESS-NOT-THE-PERSON", "COPYRIGHT-LICENSED", "COPYRIGHT-EXCEPTION",
        "COPYRIGHT-NO-MATCH", "SAFETY-HASH-MATCH"}
    assert all(domains.policy_dsa_category(c) for c in violating), violating


def test_every_domain_plugs_in_and_one_renderer_renders():
    assert {d.name for d in domains.domains()} >= {"likeness", "copyright", "safety", "generator"}
    assert callable(domains.renderer())
