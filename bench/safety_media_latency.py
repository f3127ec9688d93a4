"""Frame and audio safety latency against the raw model calls, measured in the same run, interleaved
so both see the same load.

    python bench/safety_media_latency.py [--rounds 3] [--prompt-classifier]

Frames (the nudenet 320n detector, onnxruntime): per frame as post-render stages see them (the
renderer's frames sampled at 2 a second, and real photos scaled to 480 px, as ``sample_frames``
gives them), one frame per call and a 3 s video's 6 frames per call; the raw row is
``session.run`` alone on the same preprocessed input. nudenet's own ``NudeDetector.detect`` on the
same frames is shown for reference. Input images: ``read_image`` + classify at their own size.

Audio (per second of audio): Silero VAD (segments) against its raw onnxruntime calls; the same
model's streaming export run frame by frame (how silero-vad's package runs it) for reference;
pocketsphinx on the utterances; the whole ``AudioClassifier.classify`` (VAD, transcription, text
classifier) against the raw calls it makes (VAD run + pocketsphinx decode of the same utterances).
With ``--prompt-classifier`` the transcript goes through the prompt classifier (loads MiniLM),
otherwise through the term policy.
"""

from __future__ import annotations

import argparse
import os
import time

import cv2
import numpy as np

from safety_media_common import SPEECH, percentile, real_photos, rendered_frames, speech_clips

from app.kit.media import AudioTrack, load_audio, read_image
from app.kit.speech import PocketsphinxTranscriber
from safety.audio import AudioClassifier, TermClassifier, load_vad, utterances
from safety.frames import load_frame_classifier
from safety.terms import load_policy


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - started) * 1000.0


def row(name: str, values: list[float], unit: str = "ms") -> None:
    print(f"  {name:56} {percentile(values, 50):9.2f} {percentile(values, 95):9.2f}  {unit}")


def fit(image: np.ndarray, max_side: int = 480) -> np.ndarray:
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else image


def frames_section(rounds: int) -> None:
    clf = load_frame_classifier()
    det = clf.detector
    frames = [im.bgr for im in rendered_frames()] + [fit(p.bgr) for p in real_photos() if p.group != "photo"
                                                    or p.bgr.ndim == 3][:12]
    print(f"\nFRAMES: {clf.version}; {len(frames)} frames (renderer 288x512 -> 270x480, photos <= 480 px); "
          f"onnxruntime {det._session.get_providers()[0]}, {os.cpu_count()} cores")
    from nudenet import NudeDetector

    reference = NudeDetector()
    for f in frames[:4]:
        clf.classify([f]), reference.detect(f)
    end, raw, ref = [], [], []
    for _ in range(rounds):
        for f in frames:
            end.append(timed(clf.classify, [f]))
            blob, _ = det.preprocess(f)
            raw.append(timed(det.run, blob))
            ref.append(timed(reference.detect, f))
    print(f"  {'per frame, one frame per call':56} {'p50':>9} {'p95':>9}")
    row("classify([frame]) end to end", end)
    row("raw model call: session.run(1x3x320x320), same run", raw)
    row("nudenet 3.4.2 NudeDetector.detect(frame), for reference", ref)
    print(f"  ratio classify / raw model call: p50 {percentile(end, 50) / percentile(raw, 50):.2f}x, "
          f"p95 {percentile(end, 95) / percentile(raw, 95):.2f}x")

    video = frames[:6]  # a 3 s render at 2 frames a second, as FrameSafetyStage sees it
    blobs = np.concatenate([det.preprocess(f)[0] for f in video])
    end6, raw6 = [], []
    for _ in range(rounds * 5):
        end6.append(timed(clf.classify, video) / len(video))
        raw6.append(timed(det.run, blobs) / len(video))
    print("  per frame, a 3 s video's 6 frames per call (batch of 6)")
    row("classify(6 frames) / 6", end6)
    row("raw model call: session.run(6x3x320x320) / 6, same run", raw6)
    print(f"  ratio: p50 {percentile(end6, 50) / percentile(raw6, 50):.2f}x")

    print("  input images (read_image from JPEG bytes + classify)")
    ok, hopper = cv2.imencode(".jpg", [p.bgr for p in real_photos() if p.name.endswith("grace_hopper")][0])
    big = cv2.resize([p.bgr for p in real_photos() if p.name.endswith("astronaut")][0], (4000, 3000),
                     interpolation=cv2.INTER_CUBIC)
    ok, big_jpeg = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    for name, data in (("512x600 JPEG", hopper.tobytes()), ("4000x3000 JPEG (12 MP)", big_jpeg.tobytes())):
        image = read_image(data)
        clf.classify([image])
        total = [timed(lambda: clf.classify([read_image(data)])) for _ in range(rounds * 3)]
        raw_i = [timed(det.run, det.preprocess(image)[0]) for _ in range(rounds * 3)]
        row(f"{name}: decode + classify", total)
        row(f"{name}: raw model call", raw_i)


def audio_section(rounds: int, use_prompt_classifier: bool) -> None:
    vad = load_vad()
    transcriber = PocketsphinxTranscriber()
    if use_prompt_classifier:
        from safety.prompt_classifier import load_prompt_classifier
        text = load_prompt_classifier()
    else:
        text = TermClassifier(load_policy())
    clf = AudioClassifier(vad, transcriber, text)
    tracks = [AudioTrack(np.concatenate([np.zeros(8000, np.int16), load_audio(SPEECH / c.file).samples,
                                         np.zeros(8000, np.int16)])) for c in speech_clips()]
    long = AudioTrack(np.concatenate([t.samples for t in tracks[:8]]))
    seconds = sum(t.duration_s for t in tracks)
    print(f"\nAUDIO: {clf.version}\n  {len(tracks)} espeak-ng clips padded with 0.5 s of silence "
          f"({seconds:.0f} s in all, {seconds / len(tracks):.1f} s each) and one {long.duration_s:.0f} s track")

    import onnxruntime as ort
    from safety.audio import silero_model_path
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    streaming = ort.InferenceSession(str(silero_model_path().with_name("silero_vad.onnx")), options,
                                     providers=["CPUExecutionProvider"])

    def stream(track: AudioTrack) -> None:
        audio = track.samples.astype(np.float32) / 32768.0
        state, ctx = np.zeros((2, 1, 128), np.float32), np.zeros((1, 64), np.float32)
        sr = np.array(16000, np.int64)
        for i in range(0, len(audio) - 511, 512):
            x = np.concatenate([ctx, audio[None, i:i + 512]], axis=1)
            _, state = streaming.run(None, {"input": x, "state": state, "sr": sr})
            ctx = x[:, -64:]

    vad_end, vad_raw, vad_stream, asr, end, raw = [], [], [], [], [], []
    for _ in range(rounds):
        for t in tracks + [long]:
            per_s = 1.0 / t.duration_s
            vad_end.append(timed(vad.segments, t) * per_s)
            blocks = vad.blocks(t)
            vad_raw.append(timed(vad.run, blocks) * per_s)
            vad_stream.append(timed(stream, t) * per_s)
            pieces = [AudioTrack(t.samples[int(u.start_s * t.rate):int(u.end_s * t.rate)])
                      for u in utterances(vad.segments(t), t.duration_s)]
            decode_ms = sum(timed(transcriber._decoder.decode, p) for p in pieces)
            asr.append(decode_ms / max(1e-9, sum(p.duration_s for p in pieces)))
            end.append(timed(clf.classify, t) * per_s)
            raw.append((timed(vad.run, blocks) + decode_ms) * per_s)
    print(f"  {'per second of audio':56} {'p50':>9} {'p95':>9}")
    row("VAD segments (silero sequence export, onnxruntime)", vad_end)
    row("raw model calls: session.run per 512-frame block", vad_raw)
    row("silero streaming export, one run per 32 ms frame (ref.)", vad_stream)
    print(f"  ratio VAD / raw: p50 {percentile(vad_end, 50) / percentile(vad_raw, 50):.2f}x; "
          f"streaming / sequence raw: p50 {percentile(vad_stream, 50) / percentile(vad_raw, 50):.2f}x")
    row("pocketsphinx free-LM decode, per second of SPEECH", asr)
    row("AudioClassifier.classify end to end", end)
    row("raw calls it makes: VAD run + decode of its utterances", raw)
    print(f"  ratio classify / raw calls: p50 {percentile(end, 50) / percentile(raw, 50):.2f}x, "
          f"p95 {percentile(end, 95) / percentile(raw, 95):.2f}x")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prompt-classifier", action="store_true",
                    help="judge transcripts with the prompt classifier (loads MiniLM) instead of the term policy")
    ap.add_argument("--only", choices=("frames", "audio"))
    args = ap.parse_args(argv)
    if args.only != "audio":
        frames_section(args.rounds)
    if args.only != "frames":
        audio_section(args.rounds, args.prompt_classifier)


if __name__ == "__main__":
    main()
