"""A stage's version names its models from their records (app/model_files.py): reading it loads no
model, and it is the same string the loaded model gives once it has been loaded."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.app.test_model_files import OVERRIDES

ROOT = Path(__file__).resolve().parents[2]

# In a fresh process: read every registered stage's version, then report which loaders ran.
PROBE = """
import json, sys
from app import domains
from app.factory import load_plugins
load_plugins()
versions = {s.name: s.version for d in domains.domains() for s in d.stages}
from app.kit import image_embedding, speech, text_embedding
from copyright import ip_text
from likeness.faces import models as faces
from safety import audio, frames, prompt_classifier
caches = {
    "text embedder": text_embedding._load_embedder.cache_info().currsize,
    "prompt classifier": prompt_classifier.load_prompt_classifier.cache_info().currsize,
    "ip text classifier": ip_text.load_ip_text_classifier.cache_info().currsize,
    "nudity detector": frames._load.cache_info().currsize,
    "vad": audio._vad.cache_info().currsize,
    "whisper": speech._whisper.cache_info().currsize,
    "pocketsphinx": speech._pocketsphinx.cache_info().currsize,
    "face models": faces.load_face_models.cache_info().currsize,
    "image embedder": len(image_embedding._loaded),
}
print(json.dumps({"versions": versions, "caches": caches,
                  "imported": sorted(m for m in ("torch", "transformers", "whisper") if m in sys.modules)}))
"""


def _probe(env_extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDES}
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env={**env, **env_extra},
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_reading_every_stage_version_loads_no_model(tmp_path):
    # Configured files are described, not loaded: junk bytes would fail any loader that ran.
    whisper, clip = tmp_path / "tiny.en.pt", tmp_path / "clip.onnx"
    whisper.write_bytes(b"a checkpoint nobody loads")
    clip.write_bytes(b"an image tower nobody loads")
    report = _probe({"GL_SPEECH_MODEL": str(whisper), "GL_IMAGE_EMBED_MODEL": str(clip)})
    assert report["caches"] == dict.fromkeys(report["caches"], 0)
    assert report["imported"] == []
    versions = report["versions"]
    assert versions["safety.audio"].startswith("audio-1:silero-vad-6.2.3:")
    assert ":whisper-tiny.en:" in versions["safety.audio"]
    assert versions["copyright.frames"].startswith("frames-1:clip:") and ":clip:" in versions["copyright.rights"]
    assert ":nudenet-320n:" in versions["safety.frames"] and "yunet-2023mar-int8bq:" in versions["likeness.face_scan"]


def test_the_version_read_before_loading_is_the_one_after(monkeypatch):
    from copyright.stages import RightsStage
    from likeness.faces import load_face_models
    from likeness.stages import FaceScanStage, InputFacesStage
    from safety.audio import load_audio_classifier
    from safety.frames import load_frame_classifier
    from safety.prompt_classifier import load_prompt_classifier
    from safety.stages import AudioSafetyStage, FrameSafetyStage, InputImageSafetyStage, PromptSafetyStage

    for name in OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    pairs = [
        (PromptSafetyStage(), PromptSafetyStage(load_prompt_classifier())),
        (FrameSafetyStage(), FrameSafetyStage(load_frame_classifier())),
        (InputImageSafetyStage(), InputImageSafetyStage(load_frame_classifier())),
        (AudioSafetyStage(), AudioSafetyStage(load_audio_classifier())),
        (InputFacesStage(), InputFacesStage(load_face_models())),
        (FaceScanStage(), FaceScanStage(load_face_models())),
    ]
    for unloaded, loaded in pairs:
        assert unloaded.version == loaded.version, unloaded.name
    rights = RightsStage()
    before = rights.version
    rights.classifier  # noqa: B018 - loads the text model and the catalogue's embeddings
    assert rights.version == before
