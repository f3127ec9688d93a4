"""The rightsholder portal's service (app.interfaces.RightsPortal), without Flask, on the test backend."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import cv2
import numpy as np
import pytest

from app import domains
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.interfaces import RightsPortal
from app.models import Generation, Role, Status, User
from copyright import revenue, services
from copyright.models import GenerationWork, PolicyKind
from tests.conftest import create_user

EVIDENCE = "Registration certificate no. 1234 for the character and its trademarks."


def verified(s, admin, member, work_id):
    claim = services.file_claim(s, member, work_id, EVIDENCE, None)
    services.decide_claim(s, admin, claim.id, True, "checked")


@pytest.fixture
def world(rt):
    """Paws holds Garfield (revenue share, a video used it and earned); Acme holds Odie."""
    admin = create_user(rt, "admin@t.test", Role.ADMIN, handle="admin")
    paws = create_user(rt, "paws@t.test", Role.RIGHTSHOLDER, handle="paws")
    tabby = create_user(rt, "tabby@t.test", Role.RIGHTSHOLDER, handle="tabby")
    acme = create_user(rt, "acme@t.test", Role.RIGHTSHOLDER, handle="acme")
    bob = create_user(rt, "bob@t.test", handle="bob")
    with rt.db.transaction() as s:
        admin, paws, tabby, acme = (s.get(User, u.id) for u in (admin, paws, tabby, acme))
        services.create_org(s, admin, "Paws, Inc.", [paws, tabby])
        services.create_org(s, admin, "Acme", [acme])
        verified(s, admin, paws, "garfield")
        verified(s, admin, acme, "odie")
        services.file_claim(s, paws, "goofy", EVIDENCE, None)  # pending
        policy = services.set_policy(s, paws, "garfield", PolicyKind.ALLOW_WITH_REVENUE_SHARE, 1500, [],
                                     datetime.now(timezone.utc) - timedelta(days=1), None)
        gens = {}
        for name, work_id in (("garfield", "garfield"), ("odie", "odie")):
            gen = Generation(owner_id=bob.id, prompt=f"{name} napping in the sun", status=Status.PUBLISHED,
                             created_at=datetime.now(timezone.utc) - timedelta(hours=1))  # before its revenue
            s.add(gen)
            s.flush()
            s.add(GenerationWork(generation_id=gen.id, work_id=work_id, policy_id=policy.id if name == "garfield"
                                 else None, org_id=policy.org_id if name == "garfield" else None,
                                 decision="allow", via="prompt"))
            gens[name] = gen.id
        s.flush()
        revenue.record_revenue(s, admin, "pay-1", gens["garfield"], 10_000, "USD",
                               datetime.now(timezone.utc) - timedelta(minutes=5))
    return {"admin": admin.id, "paws": paws.id, "acme": acme.id, "bob": bob.id, **{f"gen_{k}": v
                                                                                  for k, v in gens.items()}}


@pytest.fixture
def portal() -> RightsPortal:
    return domains.service(RightsPortal)


def png() -> bytes:
    noise = np.random.default_rng(7).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    return cv2.imencode(".png", noise)[1].tobytes()


def test_the_overview_shows_my_organisation_only(rt, world, portal):
    with rt.db.transaction() as s:
        view = portal.overview(s, s.get(User, world["paws"]))
    assert view["organisation"]["name"] == "Paws, Inc."
    assert [m["handle"] for m in view["organisation"]["members"]] == ["paws", "tabby"]
    [work] = view["works"]
    assert (work["id"], work["title"], work["kind"]) == ("garfield", "Garfield", "character")
    assert "Garfield the cat" in work["aliases"]
    assert (work["policy"]["kind"], work["policy"]["share_percent"]) == ("allow_with_revenue_share", 15.0)
    assert [p["version"] for p in work["policy_history"]] == [1] and work["reference_images"] == []
    assert [c["work_id"] for c in view["pending_claims"]] == ["goofy"]
    assert [(g["id"], g["prompt_snippet"]) for g in view["generations"]] == \
        [(world["gen_garfield"], "garfield napping in the sun")]  # Acme's Odie video is not ours to see
    assert view["revenue"]["balances"] == {"USD": 1200}  # 10 000 - 20 % platform, 15 % of the rest
    assert [(st["totals"], st["lines"]) for st in view["revenue"]["statements"]] == [({"USD": 1200}, 1)]
    assert view["video_claims"] == [] and view["disputes"] == []
    with rt.db.transaction() as s:
        other = portal.overview(s, s.get(User, world["acme"]))
        assert [w["id"] for w in other["works"]] == ["odie"] and other["revenue"]["balances"] == {}
        with pytest.raises(Forbidden) as refused:
            portal.overview(s, s.get(User, world["bob"]))
        assert refused.value.code == "not_in_org"


def test_set_policy_makes_a_new_version_and_another_orgs_work_is_not_found(rt, world, portal):
    with rt.db.transaction() as s:
        paws = s.get(User, world["paws"])
        made = portal.set_policy(s, paws, "garfield", "allow_with_attribution", restrictions=["no_sexual"])
        assert (made["version"], made["kind"], made["restrictions"]) == (2, "allow_with_attribution", ["no_sexual"])
        shared = portal.set_policy(s, paws, "garfield", "allow_with_revenue_share", share_percent=12.5)
        assert (shared["version"], shared["share_percent"]) == (3, 12.5)
        with pytest.raises(ValidationFailed):
            portal.set_policy(s, paws, "garfield", "sometimes")
        for act in (lambda: portal.set_policy(s, paws, "odie", "allow"),
                    lambda: portal.upload_reference(s, paws, "odie", png()),
                    lambda: portal.file_claim(s, paws, world["gen_odie"], "odie", "takedown", "x" * 20)):
            with pytest.raises(NotFound) as missing:
                act()
            assert missing.value.code == "work_not_owned"
    with rt.db.transaction() as s:
        [work] = portal.overview(s, s.get(User, world["paws"]))["works"]
        assert [p["version"] for p in work["policy_history"]] == [3, 2, 1]
        assert work["policy"]["version"] == 3


def test_reference_images_are_added_listed_and_removed(rt, world, portal):
    with rt.db.transaction() as s:
        paws = s.get(User, world["paws"])
        added = portal.upload_reference(s, paws, "garfield", png())
        assert added["size"] == len(png()) and added["id"]
        with pytest.raises(ValidationFailed) as bad:
            portal.upload_reference(s, paws, "garfield", b"not an image at all")
        assert bad.value.code == "not_an_image"
    with rt.db.transaction() as s:
        paws = s.get(User, world["paws"])
        [work] = portal.overview(s, paws)["works"]
        assert [r["id"] for r in work["reference_images"]] == [added["id"]]
        with pytest.raises(NotFound):
            portal.remove_reference(s, s.get(User, world["acme"]), "garfield", added["id"])
        portal.remove_reference(s, paws, "garfield", added["id"])
    with rt.db.transaction() as s:
        assert portal.overview(s, s.get(User, world["paws"]))["works"][0]["reference_images"] == []


def test_a_claim_filed_through_the_portal_and_its_dispute_show_with_the_case(rt, world, portal):
    from copyright import claims

    with pytest.raises(Conflict) as refused:  # Garfield already earns its licensed share of the video
        with rt.db.transaction() as s:
            portal.file_claim(s, s.get(User, world["paws"]), world["gen_garfield"], "garfield", "monetise",
                              "Our character is the whole video.")
    assert refused.value.code == "work_already_licensed"
    with rt.db.transaction() as s:
        filed = portal.file_claim(s, s.get(User, world["paws"]), world["gen_garfield"], "garfield", "takedown",
                                  "Our character is the whole video.")
        assert (filed["action"], filed["status"], filed["case"]) == ("takedown", "open", None)
        claims.dispute(s, s.get(User, world["bob"]), filed["id"], "I drew the cat differently.")
    with rt.db.transaction() as s:
        view = portal.overview(s, s.get(User, world["paws"]))
        [dispute] = view["disputes"]
        assert dispute["id"] == filed["id"] and dispute["case"]["state"] == "open" and dispute["case"]["due_at"]
        assert portal.overview(s, s.get(User, world["acme"]))["video_claims"] == []


def test_the_statement_csv_has_a_header_and_my_rows(rt, world, portal):
    with rt.db.transaction() as s:
        text = portal.statement_csv(s, s.get(User, world["paws"]))
        rows = list(csv.DictReader(io.StringIO(text)))
        assert text.splitlines()[0].startswith("period,event_id,kind")
        assert [(r["event_id"], r["currency"], int(r["amount_minor"])) for r in rows] == [("pay-1", "USD", 1200)]
        month = rows[0]["period"]
        assert portal.statement_csv(s, s.get(User, world["paws"]), month) == text
        assert len(portal.statement_csv(s, s.get(User, world["acme"])).splitlines()) == 1  # the header alone
        with pytest.raises(ValidationFailed):
            portal.statement_csv(s, s.get(User, world["paws"]), "2026-13")
