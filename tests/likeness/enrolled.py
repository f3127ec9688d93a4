"""Cameos with an enrolled face, for tests about what an enrolled cameo does (consent, co-ownership,
revocation, the face scan): POST /cameos makes it, unenrolled, and `enrolment.complete` enrols it, the
same stored side a passed liveness check runs (1:N duplicate check, sealed template, status). The
liveness video itself is tested in test_enrolment.py and test_enrolment_api.py."""

from __future__ import annotations

import hashlib

import numpy as np

from app.models import User
from likeness import enrolment
from likeness.faces import load_face_models
from likeness.models import Cameo


def stand_in_face(cameo_id: str) -> np.ndarray:
    """A random unit vector per cameo: a face no camera and no other cameo will match."""
    rng = np.random.default_rng(int(hashlib.sha256(cameo_id.encode()).hexdigest()[:8], 16))
    face = rng.standard_normal(load_face_models().dim).astype(np.float32)
    return face / np.linalg.norm(face)


def enrol(rt, cameo_id: str, face: np.ndarray | None = None, crops: list[np.ndarray] | None = None) -> str:
    """Enrol `face` (an embedding, e.g. of a test photo) into the unenrolled cameo, with `crops` (aligned
    112 px BGR faces) as the enrolment's stored crops; returns its status."""
    models = load_face_models()
    face = stand_in_face(cameo_id) if face is None else face
    with rt.db.transaction() as s:
        cameo = s.get(Cameo, cameo_id)
        enrolment.complete(s, s.get(User, cameo.owner_id), cameo, enrolment.build_template(np.stack([face, face])),
                           list(crops or []), models, frames=2, speech="test")
        return cameo.status


def enrolled_cameo(rt, api, display_name: str, permission: str, face: np.ndarray | None = None,
                   crops: list[np.ndarray] | None = None, **body) -> str:
    """POST /cameos as `api`'s user, then enrol: the id of an active cameo."""
    resp = api.post("/api/v1/cameos", json={"display_name": display_name, "permission": permission, **body})
    assert resp.status_code == 201, resp.get_json()
    cameo_id = resp.get_json()["id"]
    assert resp.get_json()["status"] == "unenrolled"
    assert enrol(rt, cameo_id, face, crops) == "active"
    return cameo_id
