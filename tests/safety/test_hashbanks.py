"""Hash banks: signals in threatexchange's formats, matching re-encoded copies, negative banks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from app.errors import ValidationFailed
from app.models import Role, User
from app.kit.perceptual import PDQ_BITS, fingerprint, pdq, phash, to_hex
from safety import hashbanks
from safety.models import BankAction
from tests.app.test_api import envelope


def bgr(image):
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="module")
def photos():
    return {"cat": bgr(data.chelsea()), "coffee": bgr(data.coffee()), "astronaut": bgr(data.astronaut())}


def reencoded(image):
    small = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    return cv2.imdecode(cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 50])[1], cv2.IMREAD_COLOR)


@pytest.fixture
def admin(rt):
    with rt.db.transaction() as s:
        user = User(email="tns@t.test", handle="tns", password_hash="x", role=Role.ADMIN)
        s.add(user)
    return user


def test_a_banked_image_is_found_again_after_re_encoding(rt, admin, photos):
    with rt.db.transaction() as s:
        bank = hashbanks.create_bank(s, admin, "known-bad")
        signals = hashbanks.add_media(s, admin, bank.id, photos["cat"])
        assert [x.signal_type for x in signals] == ["pdq", "phash"]
    with rt.db.transaction() as s:
        index = hashbanks.bank_index(s)
        [hit] = index.match(fingerprint(reencoded(photos["cat"])))
        assert (hit.bank_name, hit.action, hit.signal_type) == ("known-bad", "block", "pdq") and hit.distance <= 31
        assert index.match(fingerprint(photos["coffee"])) == []
        assert index.match(fingerprint(photos["astronaut"])) == []


def test_negative_banks_suppress_and_disabled_banks_are_ignored(rt, admin, photos):
    with rt.db.transaction() as s:
        bad = hashbanks.create_bank(s, admin, "bad", action=BankAction.REVIEW)
        good = hashbanks.create_bank(s, admin, "famous-paintings", negative=True)
        hashbanks.add_media(s, admin, bad.id, photos["cat"])
        hashbanks.add_media(s, admin, bad.id, photos["coffee"])
        hashbanks.add_media(s, admin, good.id, photos["coffee"])
    with rt.db.transaction() as s:
        index = hashbanks.bank_index(s)
        assert [h.action for h in index.match(fingerprint(photos["cat"]))] == ["review"]
        assert index.match(fingerprint(photos["coffee"])) == []  # known-good media outranks the bad bank
        hashbanks.update_bank(s, admin, bad.id, enabled=False)
    with rt.db.transaction() as s:
        assert hashbanks.bank_index(s).match(fingerprint(photos["cat"])) == []  # rebuilt on the change


def test_each_bank_keeps_its_own_match_distance(rt, admin, photos):
    value, _ = pdq(photos["cat"])
    nearby = to_hex(value ^ 0b111111111111, PDQ_BITS)  # 12 bits away
    with rt.db.transaction() as s:
        strict = hashbanks.create_bank(s, admin, "strict", pdq_distance=10)
        loose = hashbanks.create_bank(s, admin, "loose", pdq_distance=20)
        for bank in (strict, loose):
            hashbanks.add_signal(s, admin, bank.id, "pdq", nearby)
    with rt.db.transaction() as s:
        hits = hashbanks.bank_index(s).match(fingerprint(photos["cat"]))
        assert [(h.bank_name, h.distance) for h in hits] == [("loose", 12)]


def test_signal_files_round_trip_through_threatexchange(rt, admin, photos, tmp_path):
    from threatexchange.exchanges.impl.file_api import FileCollaborationConfig, LocalFileSignalExchangeAPI

    with rt.db.transaction() as s:
        bank = hashbanks.create_bank(s, admin, "partner")
        for image in photos.values():
            hashbanks.add_media(s, admin, bank.id, image)
        exported = hashbanks.export_signals(s, bank.id, "te-file")
        as_csv = hashbanks.export_signals(s, bank.id, "te-csv")
    path = tmp_path / "signals.txt"
    path.write_text(exported)
    api = LocalFileSignalExchangeAPI(FileCollaborationConfig(name="partner", api="file", enabled=True,
                                                             filename=str(path)))
    [delta] = api.fetch_iter([], None)
    theirs = set(delta.updates)
    assert len(theirs) == 6 and theirs == {tuple(line.split(" ")) for line in exported.splitlines()}
    assert as_csv.splitlines()[0] == "signal_type,signal_str,collab,category,tags"
    with rt.db.transaction() as s:
        copy = hashbanks.create_bank(s, admin, "copy")
        report = hashbanks.import_signals(s, admin, copy.id, as_csv, "te-csv", source="import:test")
        assert (report.added, report.already_there) == (6, 0)
        again = hashbanks.import_signals(s, admin, copy.id, exported, "te-file", source="import:test")
        assert (again.added, again.already_there) == (0, 6)
        assert hashbanks.export_signals(s, copy.id, "te-file") == exported


def test_a_file_with_bad_lines_imports_nothing(rt, admin, photos):
    good = to_hex(phash(photos["cat"]))
    text = f"phash {good}\npdq not-a-hash\nmd5 d41d8cd98f00b204e9800998ecf8427e\n\n# comment\n"
    with rt.db.transaction() as s:
        bank = hashbanks.create_bank(s, admin, "partner")
        with pytest.raises(ValidationFailed) as err:
            hashbanks.import_signals(s, admin, bank.id, text, "te-file", source="x")
        assert err.value.code == "invalid_signal_file"
        assert [p["line"] for p in err.value.details["lines"]] == [2, 3]
        assert hashbanks.get_bank(s, bank.id)[1] == 0
        # Bare signals of one type, as threatexchange's --signal-type option reads them.
        report = hashbanks.import_signals(s, admin, bank.id, f"{good}\n", "te-file", source="x", default_type="phash")
        assert report.added == 1


def test_hash_banks_through_the_api(make_api, photos):
    admin, _ = make_api("admin@t.test", role=Role.ADMIN, handle="admin")
    senior, _ = make_api("sen@t.test", role=Role.SENIOR_REVIEWER, handle="sen")
    bob, _ = make_api("bob@t.test", handle="bob")
    created = admin.post("/api/v1/hash-banks", json={"name": "csam-hashes", "action": "block"})
    assert created.status_code == 201
    bank = created.get_json()["id"]
    envelope(admin.post("/api/v1/hash-banks", json={"name": "csam-hashes"}), 409, "bank_exists")
    envelope(admin.post("/api/v1/hash-banks", json={"name": "Bad Name!"}), 422, "invalid_bank_name")
    envelope(admin.post("/api/v1/hash-banks", json={"name": "x2", "pdq_distance": 90}), 422, "validation_error")
    envelope(bob.get("/api/v1/hash-banks"), 403, "role_not_allowed")
    envelope(senior.post("/api/v1/hash-banks", json={"name": "mine"}), 403, "role_not_allowed")
    png = cv2.imencode(".png", photos["cat"])[1].tobytes()
    added = admin.post(f"/api/v1/hash-banks/{bank}/media", data=png, headers={"Content-Type": "image/png"})
    assert added.status_code == 201 and [x["signal_type"] for x in added.get_json()["items"]] == ["pdq", "phash"]
    envelope(admin.post(f"/api/v1/hash-banks/{bank}/media", data=b"junk", headers={"Content-Type": "image/png"}),
             422, "not_an_image")
    signal = {"signal_type": "phash", "signal": to_hex(phash(photos["coffee"]))}
    assert admin.post(f"/api/v1/hash-banks/{bank}/signals", json=signal).status_code == 201
    assert admin.post(f"/api/v1/hash-banks/{bank}/signals", json=signal).status_code == 200
    envelope(admin.post(f"/api/v1/hash-banks/{bank}/signals", json={"signal_type": "pdq", "signal": "ab" * 16}),
             422, "invalid_signal")
    listed = senior.get(f"/api/v1/hash-banks/{bank}/signals?limit=2").get_json()
    assert len(listed["items"]) == 2 and listed["next_after"]
    rest = senior.get(f"/api/v1/hash-banks/{bank}/signals?limit=2&after={listed['next_after']}").get_json()
    assert len(rest["items"]) == 1 and rest["next_after"] is None
    exported = senior.get(f"/api/v1/hash-banks/{bank}/export?format=te-file")
    assert exported.mimetype == "text/plain" and len(exported.get_data(as_text=True).splitlines()) == 3
    other = admin.post("/api/v1/hash-banks", json={"name": "copy"}).get_json()["id"]
    imported = admin.post(f"/api/v1/hash-banks/{other}/import?format=te-file", data=exported.get_data(),
                          headers={"Content-Type": "text/plain"})
    assert imported.get_json() == {"added": 3, "already_there": 0}
    envelope(admin.post(f"/api/v1/hash-banks/{other}/import", data=b"\xff\xfe", headers={"Content-Type": "text/plain"}),
             422, "invalid_signal_file")
    envelope(admin.delete(f"/api/v1/hash-banks/{bank}/signals/nope"), 404, "signal_not_found")
    assert admin.delete(f"/api/v1/hash-banks/{bank}/signals/{rest['items'][0]['id']}").status_code == 204
    patched = admin.patch(f"/api/v1/hash-banks/{bank}", json={"enabled": False, "pdq_distance": 20}).get_json()
    assert (patched["enabled"], patched["pdq_distance"], patched["signals"]) == (False, 20, 2)
    envelope(admin.get("/api/v1/hash-banks/nope"), 404, "bank_not_found")
    assert {b["name"] for b in senior.get("/api/v1/hash-banks").get_json()["items"]} == {"csam-hashes", "copy"}


def test_banks_import_and_export_from_the_command_line(rt, admin, photos, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from app.cli import main

    monkeypatch.setattr("app.runtime.current", lambda: rt)
    with rt.db.transaction() as s:
        hashbanks.create_bank(s, admin, "partner")
    good = tmp_path / "good.txt"
    good.write_text("".join(f"phash {to_hex(phash(im))}\n" for im in photos.values()))
    bad = tmp_path / "bad.txt"
    bad.write_text("pdq 1234\n")
    run = CliRunner().invoke
    result = run(main, ["banks", "import", "partner", str(bad), "--actor", "tns@t.test"])
    assert result.exit_code != 0 and "line 1" in result.output
    result = run(main, ["banks", "import", "partner", str(good), "--actor", "tns@t.test"])
    assert result.exit_code == 0 and "3 signals added, 0 already in partner" in result.output, result.output
    assert run(main, ["banks", "import", "nope", str(good), "--actor", "tns@t.test"]).exit_code != 0
    exported = run(main, ["banks", "export", "partner"])
    assert sorted(exported.output.splitlines()) == sorted(good.read_text().splitlines())


# -- in the pipeline ---------------------------------------------------------------------------------

from tests.conftest import drain  # noqa: E402
from tests.copyright.test_rendered_works import render_still  # noqa: E402,F401  (fixture)


def bank_photo(api, photo, action="block", name="known-bad"):
    bank = api.post("/api/v1/hash-banks", json={"name": name, "action": action}).get_json()["id"]
    api.post(f"/api/v1/hash-banks/{bank}/media", data=cv2.imencode(".png", photo)[1].tobytes(),
             headers={"Content-Type": "image/png"})
    return bank


def test_a_banked_input_image_is_blocked_before_rendering(make_api, photos):
    admin, _ = make_api("admin@t.test", role=Role.ADMIN, handle="admin")
    bob, _ = make_api("bob@t.test", handle="bob")
    bank_photo(admin, photos["coffee"])
    jpeg = cv2.imencode(".jpg", reencoded(photos["coffee"]), [cv2.IMWRITE_JPEG_QUALITY, 70])[1].tobytes()
    upload = bob.post("/api/v1/uploads/images", data=jpeg, headers={"Content-Type": "image/jpeg"}).get_json()["id"]
    body = bob.post("/api/v1/generations", json={"prompt": "steam rising", "input_image_id": upload}).get_json()
    assert body["status"] == "blocked"
    [verdict] = [v for v in body["verdicts"] if v["stage"] == "safety.input_hashes"]
    [reason] = verdict["reasons"]
    assert (reason["code"], reason["details"]["bank"], reason["details"]["signal_type"]) == \
        ("hash_bank_match", "known-bad", "pdq")


@pytest.mark.slow
def test_rendered_frames_matching_a_review_bank_hold_the_video(rt, make_api, photos, render_still):  # noqa: F811
    admin, _ = make_api("admin@t.test", role=Role.ADMIN, handle="admin")
    bob, _ = make_api("bob@t.test", handle="bob")
    bank_photo(admin, photos["astronaut"], action="review", name="watch-list")
    render_still(photos["astronaut"])
    gid = bob.post("/api/v1/generations", json={"prompt": "a rocket launch"}).get_json()["id"]
    drain(rt)
    body = bob.get(f"/api/v1/generations/{gid}").get_json()
    assert body["status"] == "in_review"
    [verdict] = [v for v in body["verdicts"] if v["stage"] == "safety.frame_hashes"]
    assert verdict["decision"] == "review" and verdict["reasons"][0]["details"]["bank"] == "watch-list"
    assert verdict["reasons"][0]["details"]["at_s"] >= 0
