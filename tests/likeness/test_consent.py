from datetime import date

import pytest

from app import accounts
from app.errors import NotFound, ValidationFailed
from app.models import User
from app.stage import Decision, Requester, StageContext
from likeness import services
from likeness.models import Cameo, Permission
from likeness.stages import CameoConsentStage
from tests.conftest import create_user
from tests.likeness.enrolled import enrol


@pytest.fixture
def people(rt):
    return {h: create_user(rt, f"{h}@t.test", handle=h) for h in ("owner", "friend", "mutual", "stranger")}


def make_cameo(rt, owner, permission, approved=(), name="Cam", enrolled=True):
    with rt.db.transaction() as s:
        cameo_id = services.create_cameo(s, s.get(User, owner.id), name, permission, list(approved)).id
    if enrolled:
        assert enrol(rt, cameo_id) == "active"
    return cameo_id


def check(rt, requester, cameo_ids):
    with rt.db.transaction() as s:
        ctx = StageContext("g", "a walk in the park", cameo_ids, None,
                           Requester(requester.id, requester.handle, False), s)
        return CameoConsentStage().check(ctx)


@pytest.fixture
def mutuals(rt, people):
    with rt.db.transaction() as s:
        owner, mutual, stranger = (s.get(User, people[h].id) for h in ("owner", "mutual", "stranger"))
        accounts.follow(s, owner, mutual)
        accounts.follow(s, mutual, owner)
        accounts.follow(s, stranger, owner)  # one-way: not a mutual


MATRIX = {
    # permission: requesters allowed
    Permission.ONLY_ME: {"owner"},
    Permission.APPROVED: {"owner", "friend"},
    Permission.MUTUALS: {"owner", "mutual"},
    Permission.EVERYONE: {"owner", "friend", "mutual", "stranger"},
}


@pytest.mark.parametrize("permission", list(Permission))
def test_permission_matrix(rt, people, mutuals, permission):
    cameo_id = make_cameo(rt, people["owner"], permission, approved=["friend"])
    for handle, person in people.items():
        v = check(rt, person, [cameo_id])
        expected = Decision.ALLOW if handle in MATRIX[permission] else Decision.BLOCK
        assert v.decision == expected, (permission, handle, v.reasons)
        if expected == Decision.BLOCK:
            assert v.reasons[0].code == "cameo_not_permitted"


def test_no_cameos_is_allowed(rt, people):
    assert check(rt, people["stranger"], []).decision == Decision.ALLOW


def test_revoked_cameo_blocks_even_its_owner(rt, people):
    cameo_id = make_cameo(rt, people["owner"], Permission.EVERYONE)
    with rt.db.transaction() as s:
        services.revoke(s, s.get(User, people["owner"].id), cameo_id)
    v = check(rt, people["owner"], [cameo_id])
    assert v.decision == Decision.BLOCK and v.reasons[0].code == "cameo_revoked"


def test_unknown_cameo_reads_like_a_forbidden_one(rt, people):
    v = check(rt, people["stranger"], ["does-not-exist"])
    assert v.decision == Decision.BLOCK and v.reasons[0].code == "cameo_not_permitted"


def test_one_forbidden_cameo_among_allowed_ones_blocks(rt, people):
    ok = make_cameo(rt, people["owner"], Permission.EVERYONE)
    no = make_cameo(rt, people["owner"], Permission.ONLY_ME)
    v = check(rt, people["stranger"], [ok, no])
    assert v.decision == Decision.BLOCK and [r.details["cameo_id"] for r in v.reasons] == [no]


def test_teen_cannot_choose_everyone(rt):
    teen = create_user(rt, "teen@t.test", birthdate=date(date.today().year - 15, 1, 1))
    with pytest.raises(ValidationFailed) as exc:
        make_cameo(rt, teen, Permission.EVERYONE)
    assert exc.value.code == "teen_permission_not_allowed"
    cameo_id = make_cameo(rt, teen, Permission.MUTUALS)
    with pytest.raises(ValidationFailed):
        with rt.db.transaction() as s:
            services.update_permission(s, s.get(User, teen.id), cameo_id, Permission.EVERYONE, None)


def test_approved_list_can_be_replaced(rt, people):
    cameo_id = make_cameo(rt, people["owner"], Permission.APPROVED, approved=["friend"])
    with rt.db.transaction() as s:
        services.update_permission(s, s.get(User, people["owner"].id), cameo_id, None, ["stranger"])
    assert check(rt, people["friend"], [cameo_id]).decision == Decision.BLOCK
    assert check(rt, people["stranger"], [cameo_id]).decision == Decision.ALLOW


def test_unknown_approved_handle_is_rejected_and_nothing_stored(rt, people):
    with pytest.raises(ValidationFailed) as exc:
        make_cameo(rt, people["owner"], Permission.APPROVED, approved=["nobody_here"])
    assert exc.value.code == "unknown_handle"
    with rt.db.transaction() as s:
        assert s.query(Cameo).count() == 0


def test_another_users_cameo_is_not_found(rt, people):
    cameo_id = make_cameo(rt, people["owner"], Permission.EVERYONE)
    with pytest.raises(NotFound):
        with rt.db.transaction() as s:
            services.revoke(s, s.get(User, people["stranger"].id), cameo_id)


def _named(rt, requester, prompt, cameo_ids=()):
    from likeness.stages import NamedCameoStage
    with rt.db.transaction() as s:
        ctx = StageContext("g", prompt, list(cameo_ids), None, Requester(requester.id, requester.handle, False), s)
        return NamedCameoStage().check(ctx)


def test_naming_an_enrolled_person_requires_their_cameo(rt, people):
    cameo_id = make_cameo(rt, people["owner"], Permission.EVERYONE, name="Olivia Owner")
    stranger = people["stranger"]
    for prompt in ("@owner surfing a wave", "olivia owner surfing", "OLIVIA  OWNER's birthday"):
        v = _named(rt, stranger, prompt)
        assert v.decision == Decision.BLOCK and v.reasons[0].code == "named_person_without_cameo", prompt
    assert _named(rt, stranger, "@owner surfing a wave", [cameo_id]).decision == Decision.ALLOW
    assert _named(rt, people["owner"], "@owner surfing a wave").decision == Decision.ALLOW  # themselves
    assert _named(rt, stranger, "olivia surfing").decision == Decision.ALLOW     # one word: not matched
    assert _named(rt, stranger, "@nobody_here surfing").decision == Decision.ALLOW
    with rt.db.transaction() as s:
        services.revoke(s, s.get(User, people["owner"].id), cameo_id)
    # A revoked cameo's owner is no longer "enrolled"; the public-figure and consent gates still apply.
    assert _named(rt, stranger, "@owner surfing").decision == Decision.ALLOW


# -- only an enrolled, verified cameo is usable or protects a name (issue 13, point 7) -----------------------

def test_a_cameo_without_an_enrolled_face_is_usable_by_nobody_until_enrolled(rt, people):
    cameo_id = make_cameo(rt, people["owner"], Permission.EVERYONE, enrolled=False)
    with rt.db.transaction() as s:
        assert s.get(Cameo, cameo_id).status == "unenrolled"
    for who in ("owner", "stranger"):
        v = check(rt, people[who], [cameo_id])
        assert v.decision == Decision.BLOCK and v.reasons[0].code == "cameo_not_enrolled", who
    assert enrol(rt, cameo_id) == "active"
    assert check(rt, people["stranger"], [cameo_id]).decision == Decision.ALLOW


def test_an_unenrolled_cameo_protects_no_name(rt, people):
    cameo_id = make_cameo(rt, people["owner"], Permission.EVERYONE, name="Maria Lopez", enrolled=False)
    assert _named(rt, people["stranger"], "maria lopez surfing").decision == Decision.ALLOW
    assert _named(rt, people["stranger"], "@owner surfing").decision == Decision.ALLOW
    enrol(rt, cameo_id)
    assert _named(rt, people["stranger"], "maria lopez surfing").decision == Decision.BLOCK
    assert _named(rt, people["stranger"], "@owner surfing").decision == Decision.BLOCK


COMMON_PHRASES = ["Sea Turtle", "Blue Sky", "The Dog", "Red Panda", "Golden Retriever", "Happy Birthday",
                  "Dancing Dogs"]
PERSONAL_NAMES = ["Maria Lopez", "Priya Patel", "Wei Chen", "John Williams"]


@pytest.mark.parametrize("name", COMMON_PHRASES)
def test_an_enrolled_cameo_named_with_a_common_phrase_does_not_take_the_phrase(rt, people, name):
    make_cameo(rt, people["owner"], Permission.ONLY_ME, name=name)
    assert _named(rt, people["stranger"], f"a documentary about {name.lower()} at dawn").decision == Decision.ALLOW
    # The person is still protected by their handle.
    v = _named(rt, people["stranger"], f"@owner and {name.lower()}")
    assert v.decision == Decision.BLOCK and v.reasons[0].details["matched_by"] == "handle"


@pytest.mark.parametrize("name", PERSONAL_NAMES)
def test_an_enrolled_cameo_with_a_personal_name_is_matched_by_name(rt, people, name):
    make_cameo(rt, people["owner"], Permission.ONLY_ME, name=name)
    v = _named(rt, people["stranger"], f"{name.upper()} riding a bike")
    assert v.decision == Decision.BLOCK and v.reasons[0].details == {"matched_by": "display_name", "name": name}


def test_which_display_names_are_matched_by_name():
    from likeness.names import matched_by_name

    assert not any(matched_by_name(n) for n in [*COMMON_PHRASES, "Sea Turtles", "Alice", "The Blue Sea Turtle Show"])
    assert all(matched_by_name(n) for n in [*PERSONAL_NAMES, "Olivia Owner", "Tom Jones", "Angela Merkel"])


# -- a minor's cameo is never usable by an adult (issue 13, point 8) -----------------------------------------

def test_a_minors_cameo_is_refused_to_adults_whatever_its_permission(rt, people):
    teen = create_user(rt, "teen@t.test", handle="teen", birthdate=date(date.today().year - 15, 1, 1))
    other_teen = create_user(rt, "teen2@t.test", handle="teen2", birthdate=date(date.today().year - 14, 1, 1))
    undated = create_user(rt, "nodate@t.test", handle="nodate", birthdate=None)  # counts as a minor
    with rt.db.transaction() as s:
        for adult in ("mutual", "friend"):
            accounts.follow(s, s.get(User, teen.id), s.get(User, people[adult].id))
            accounts.follow(s, s.get(User, people[adult].id), s.get(User, teen.id))
        accounts.follow(s, s.get(User, teen.id), s.get(User, other_teen.id))
        accounts.follow(s, s.get(User, other_teen.id), s.get(User, teen.id))
    mutuals = make_cameo(rt, teen, Permission.MUTUALS)
    approved = make_cameo(rt, teen, Permission.APPROVED, approved=["friend", "teen2"])
    for cameo_id in (mutuals, approved):
        for adult in ("mutual", "friend"):
            v = check(rt, people[adult], [cameo_id])
            assert v.decision == Decision.BLOCK and [r.code for r in v.reasons] == ["cameo_owner_minor"], adult
        assert check(rt, teen, [cameo_id]).decision == Decision.ALLOW
        assert check(rt, other_teen, [cameo_id]).decision == Decision.ALLOW
    # An owner without a birthdate is treated as a minor too (User.is_teen).
    assert check(rt, people["stranger"], [make_cameo(rt, undated, Permission.MUTUALS)]).reasons[0].code == \
        "cameo_owner_minor"
    # An adult's own cameo stays usable by a teen it allows.
    assert check(rt, teen, [make_cameo(rt, people["owner"], Permission.EVERYONE)]).decision == Decision.ALLOW
