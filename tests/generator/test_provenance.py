"""C2PA provenance: every render through the pipeline is signed (c2pa-python) with what made it,
the gates that let it through and consent receipts; `greenlight verify` validates it, and a
tampered file or an untrusted CA shows as such."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest
from click.testing import CliRunner

from app import orchestrator
from app.models import Generation, Status, User
from generator import provenance
from generator.cli import provenance_group, verify
from generator.procedural import render_to_mp4 as procedural_clip
from tests.conftest import create_user, drain
from tests.likeness.enrolled import enrolled_cameo


def test_init_makes_a_ca_and_a_signer_and_keeps_the_key_private(tmp_path):
    result = CliRunner().invoke(provenance_group, ["init", "--dir", str(tmp_path / "p"), "--days", "30"])
    assert result.exit_code == 0, result.output
    key = tmp_path / "p" / provenance.KEY_FILE
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    chain = (tmp_path / "p" / provenance.CHAIN_FILE).read_text()
    assert chain.count("BEGIN CERTIFICATE") == 2 and "PRIVATE" not in chain
    again = CliRunner().invoke(provenance_group, ["init", "--dir", str(tmp_path / "p")])
    assert again.exit_code != 0 and "exists" in again.output
    before = key.read_bytes()
    assert CliRunner().invoke(provenance_group, ["init", "--dir", str(tmp_path / "p"), "--force"]).exit_code == 0
    assert key.read_bytes() != before


def test_without_configuration_the_development_signer_is_made_in_the_instance_folder(tmp_path, monkeypatch):
    for name in ("GL_C2PA_CERT", "GL_C2PA_KEY", "GL_C2PA_TRUST_ANCHORS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GL_INSTANCE_DIR", str(tmp_path / "instance"))
    cred = provenance.credential()
    assert cred.key == tmp_path / "instance" / "provenance" / provenance.KEY_FILE and cred.key.is_file()
    assert provenance.credential() == cred  # made once
    source = procedural_clip("a red ball", tmp_path / "clip.mp4").path
    provenance.sign(source, tmp_path / "signed.mp4", provenance.manifest(
        title="t", model="m@1", generation_id="g", policies=[], consent=[]))
    assert provenance.read(tmp_path / "signed.mp4").state == "Trusted"  # against the development CA
    monkeypatch.setenv("GL_C2PA_CERT", str(cred.chain))
    with pytest.raises(provenance.ProvenanceError, match="GL_C2PA_KEY"):
        provenance.credential()


@pytest.fixture
def cameo_render(rt, make_api):
    """A generation with a cameo (its owner's own), rendered and scanned through the pipeline."""
    erin_api, erin = make_api("erin@t.test", handle="erin")
    cameo_id = enrolled_cameo(rt, erin_api, "Erin", "everyone")
    with rt.db.transaction() as s:
        gid = orchestrator.submit_and_gate(rt, s, s.get(User, erin.id), "a red ball falls", [cameo_id], None)
    drain(rt)
    with rt.db.transaction() as s:
        gen = s.get(Generation, gid)
        return gid, cameo_id, rt.storage.path(gen.media_key), gen.render_model, gen.status


def test_a_render_carries_a_trusted_manifest_of_its_model_gates_and_consent(rt, cameo_render, monkeypatch):
    gid, cameo_id, path, model, status = cameo_render
    assert status in (Status.DRAFT, Status.IN_REVIEW, Status.BLOCKED)  # the scans' outcome is not the point
    reading = provenance.read(path)
    assert reading.present and reading.state == "Trusted" and reading.failures == []
    created = reading.assertion("c2pa.actions.v2")["actions"][0]
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"] == "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    assert created["softwareAgent"]["version"] == model and model.startswith("tiny@")
    assert reading.assertion(provenance.GENERATION_LABEL) == {"generation_id": gid}
    gates = {g["stage"]: g for g in reading.assertion(provenance.POLICIES_LABEL)["gates"]}
    assert {"safety.prompt", "likeness.cameo_consent", "copyright.rights"} <= set(gates)
    assert all(g["decision"] == "allow" and g["version"] for g in gates.values())
    receipts = reading.assertion(provenance.CONSENT_LABEL)["cameos"]
    assert receipts == [{"cameo": hashlib.sha256(cameo_id.encode()).hexdigest(), "permission": "everyone",
                         "source": "declared"}]
    assert cameo_id not in json.dumps(reading.manifest)  # the manifest names no one
    monkeypatch.setattr("app.runtime.current", lambda: rt)
    out = json.loads(CliRunner().invoke(verify, [str(path), "--json"]).output)
    assert out["manifest"] == "Trusted" and out["manifest_generation_id"] == gid == out["generation_id"]
    assert len(out["consent"]) == 1 and out["software_agent"] == model


def test_a_tampered_file_or_a_ca_nobody_trusts_shows_in_the_validation(rt, cameo_render, tmp_path):
    _, _, path, _, _ = cameo_render
    data = bytearray(path.read_bytes())
    data[-4000] ^= 0xFF  # inside the media data the manifest's hash covers
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    reading = provenance.read(tampered)
    assert reading.state == "Invalid" and reading.failures
    stranger = provenance.init(tmp_path / "stranger")
    assert provenance.read(path, trust=stranger.trust).state == "Valid"  # signature good, CA not trusted
    assert not provenance.read(procedural_clip("a ball", tmp_path / "plain.mp4").path).present
