"""The platform's bank of its own outputs: every rendered video's frames banked by the post-render
stage, and a copy (re-encoded, resized, cropped, its visible mark covered) traced back to its
generation by `greenlight trace` and the admin API."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from skimage import data

from app import orchestrator
from app.models import Generation, Role, Status, User
from generator.cli import trace
from generator.fingerprints import MATCH_DISTANCE, VIEWS, frame_prints, rank
from generator.media import transcode
from generator.models import OutputFingerprint
from tests.conftest import create_user, drain


def _photo(image) -> np.ndarray:
    return cv2.resize(np.ascontiguousarray(image[:, :, ::-1]), (384, 384))


def test_a_copy_ranks_its_source_first_and_one_look_alike_frame_is_not_a_match():
    astronaut, coffee, chelsea = _photo(data.astronaut()), _photo(data.coffee()), _photo(data.chelsea())
    stored = [(gen, p.at_s, p.as_bytes())
              for gen, frames in (("a", [astronaut, coffee]), ("b", [chelsea, astronaut]), ("c", [chelsea, coffee]))
              for p in frame_prints([(i * 0.25, f) for i, f in enumerate(frames)])]
    assert len(stored) == 3 * 2 * len(VIEWS)
    jpeg = lambda img: cv2.imdecode(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 40])[1], 1)
    # a's frames, each re-encoded and cropped by 10 % on the left
    query = frame_prints([(0.0, jpeg(astronaut)[:, 38:]), (0.25, jpeg(coffee)[:, 38:])])
    best, *others = rank(query, stored)
    assert best.generation_id == "a" and best.distance <= MATCH_DISTANCE and best.frames_within == best.frames == 2
    # b and c each share one picture with the query: half the clip is not a match
    assert {m.generation_id for m in others} == {"b", "c"} and all(m.distance > MATCH_DISTANCE for m in others)
    assert rank([], stored) == [] and rank(query, []) == []


def test_a_bank_compared_in_chunks_ranks_as_one_compared_at_once(monkeypatch):
    import generator.fingerprints as fingerprints
    frames = [(i * 0.25, _photo(img)) for i, img in enumerate((data.astronaut(), data.coffee(), data.chelsea()))]
    stored = [(f"g{k}", p.at_s, p.as_bytes()) for k in range(4) for p in frame_prints(frames[k % 3:] + frames[:k % 3])]
    query = frame_prints(frames[:2])
    whole = rank(query, stored)
    monkeypatch.setattr(fingerprints, "_CHUNK", 7)  # boundaries inside generations and frames
    assert rank(query, stored) == whole


@pytest.fixture
def rendered(rt):
    """Three generations rendered and scanned through the real pipeline (the tiny random model)."""
    bob = create_user(rt, "bob@t.test", handle="bob")
    ids = []
    for prompt in ("a red ball bounces off the backboard", "two blue cubes fall", "a green triangle rolls right"):
        with rt.db.transaction() as s:
            ids.append(orchestrator.submit_and_gate(rt, s, s.get(User, bob.id), prompt, [], None))
    drain(rt)
    with rt.db.transaction() as s:
        gens = [s.get(Generation, g) for g in ids]
        held = [(g.status, v.stage, v.reasons) for g in gens for v in g.verdicts if v.decision != "allow"]
        assert all(g.status == Status.DRAFT for g in gens), held
        return [(g.id, rt.storage.path(g.media_key)) for g in gens]


COPIES = {
    "re-encoded at CRF 32": dict(crf=32),
    "resized to 240 px": dict(size=(240, 240)),
    "cropped 10 %": dict(transform=lambda rgb: rgb[19:-19, 19:-19]),
    "visible mark covered": dict(transform=lambda rgb: cv2.rectangle(rgb.copy(), (200, 340), (383, 383), (0, 0, 0), -1)),
}


def test_every_render_is_banked_with_every_view_of_its_frames(rt, rendered):
    with rt.db.transaction() as s:
        for gid, _ in rendered:
            rows = s.query(OutputFingerprint).filter_by(generation_id=gid).all()
            views = {r.view for r in rows}
            assert views == set(VIEWS) and len(rows) == len(VIEWS) * len({r.at_s for r in rows}) >= len(VIEWS) * 4
            assert all(len(r.pdq) == 32 for r in rows)
            gen = s.get(Generation, gid)
            assert gen.render_model.startswith("tiny@") and gen.render_steps == 20
            assert set(gen.render_timings) == {"sample", "sound", "encode", "sign", "batch"}
            assert gen.render_timings["batch"] == 3  # queued together, sampled in one model call


@pytest.mark.parametrize("copy", list(COPIES))
def test_greenlight_trace_finds_the_source_of_a_copy(rt, rendered, tmp_path, monkeypatch, copy):
    monkeypatch.setattr("app.runtime.current", lambda: rt)
    source_id, source = rendered[1]
    copied = transcode(source, tmp_path / "copy.mp4", **COPIES[copy])
    result = CliRunner().invoke(trace, [str(copied), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["match"] == source_id and out["candidates"][0]["distance"] <= MATCH_DISTANCE
    assert all(c["distance"] > MATCH_DISTANCE for c in out["candidates"][1:])


def test_a_video_the_platform_did_not_render_matches_nothing(rt, rendered, tmp_path, monkeypatch):
    from generator.procedural import render_to_mp4
    monkeypatch.setattr("app.runtime.current", lambda: rt)
    other = render_to_mp4("a purple star spinning over the sea", tmp_path / "other.mp4")
    result = CliRunner().invoke(trace, [str(other.path)])
    assert result.exit_code == 1 and "match" not in result.output.replace("matches", "")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    result = CliRunner().invoke(trace, [str(junk)])
    assert result.exit_code == 1 and "media_unreadable" in result.output


def test_the_admin_api_traces_an_upload_and_nobody_else_may(rt, rendered, make_api, tmp_path):
    admin, _ = make_api("admin@t.test", role=Role.ADMIN, handle="admin")
    creator, _ = make_api("carol@t.test", handle="carol")
    source_id, source = rendered[2]
    body = transcode(source, tmp_path / "copy.mp4", crf=30).read_bytes()
    resp = admin.post("/api/v1/admin/trace", data=body, headers={"Content-Type": "video/mp4"})
    assert resp.status_code == 200, resp.get_json()
    out = resp.get_json()
    assert out["match"] == source_id and out["max_distance"] == MATCH_DISTANCE
    assert resp.get_json()["candidates"][0]["frames_within"] >= 1
    denied = creator.post("/api/v1/admin/trace", data=body, headers={"Content-Type": "video/mp4"})
    assert denied.status_code in (403, 404) and "error" in denied.get_json()
    junk = admin.post("/api/v1/admin/trace", data=b"\x00" * 2048, headers={"Content-Type": "video/mp4"})
    assert junk.status_code == 422 and junk.get_json()["error"]["code"] == "media_unreadable"
    wrong = admin.post("/api/v1/admin/trace", data=b"{}", headers={"Content-Type": "application/json"})
    assert wrong.status_code == 415 and wrong.get_json()["error"]["code"] == "unsupported_media_type"
    assert not list(rt.config.instance_dir.glob("tmp*"))  # uploads never outlive the request
