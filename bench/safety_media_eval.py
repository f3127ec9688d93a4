"""Frame and audio safety classifiers on the labelled sets that exist offline.

    python bench/safety_media_eval.py [--prompt-classifier] [--only frames|audio]

Frames: a BENIGN set only (real photos from skimage / matplotlib / scikit-learn, people included,
their mirrored / cropped / rotated / darkened / JPEG / half-size variants, skin-filling face
close-ups, 100 LFW face photos, and the procedural renderer's frames at 2 a second). It measures
the false-review and false-block rates at the shipped cut-offs (safety/data/frames.toml) and the
highest score each sexual label reached. No explicit image exists offline and none may be
committed: recall on positives is NOT measured, and this bench says so rather than invent a number.
It also compares the network fed RGB (ours) with nudenet 3.4.2's own BGR feed on the colour photos
of people (face confidence as the signal that the channel order is right).

Audio: 50 espeak-ng clips (25 sentences x 2 voices; 12 benign sentences, 13 harmful in 8
categories; tests/safety/fixtures/speech/clips.jsonl) and five non-speech tracks. Reported: VAD
speech found per clip, word error rate of the transcripts, and per category precision / recall of
the whole chain (VAD -> pocketsphinx -> text classifier), plus the false-flag rate on benign clips.
Synthetic voices are not people: treat the numbers as a floor for the pipeline's plumbing, not as
field accuracy.
"""

from __future__ import annotations

import argparse
import collections

import numpy as np

from safety_media_common import SPEECH, benign_images, speech_clips

from app.kit.media import AudioTrack, load_audio
from app.kit.speech import PocketsphinxTranscriber
from app.stage import Decision
from safety.audio import AudioClassifier, TermClassifier, load_vad
from safety.frames import load_frame_classifier
from safety.terms import load_policy


def frames_eval() -> None:
    clf = load_frame_classifier()
    images = benign_images()
    detections = clf.detector.detect_batch([im.bgr for im in images])
    print(f"FRAMES: {clf.version}")
    print(f"benign set: {len(images)} images "
          f"({', '.join(f'{g} {n}' for g, n in collections.Counter(im.group for im in images).items())})")
    print(f"{'group':14} {'n':>4} {'allow':>6} {'review':>7} {'block':>6}  {'max sexual-label score':>24}")
    by_group: dict[str, list] = collections.defaultdict(list)
    flagged = []
    for im, found in zip(images, detections):
        result = clf.judge([found])
        by_group[im.group].append((im, result))
        if result.decision is not Decision.ALLOW:
            flagged.append((im.name, result))
    for group, rows in [*by_group.items(), ("ALL", [r for rows in by_group.values() for r in rows])]:
        counts = collections.Counter(r.decision for _, r in rows)
        top = max(r.scores["sexual"] for _, r in rows)
        print(f"{group:14} {len(rows):4d} {counts[Decision.ALLOW]:6d} {counts[Decision.REVIEW]:7d} "
              f"{counts[Decision.BLOCK]:6d}  {top:24.3f}")
    n = len(images)
    reviews = sum(r.decision is Decision.REVIEW for _, r in flagged)
    blocks = sum(r.decision is Decision.BLOCK for _, r in flagged)
    print(f"false-block rate {blocks}/{n} = {100 * blocks / n:.1f} %; false-review rate {reviews}/{n} = "
          f"{100 * reviews / n:.1f} %")
    for name, result in flagged:
        print(f"  flagged: {name}: {result.decision.value} "
              f"{[(f.detection.label, round(f.detection.score, 3)) for f in result.findings]}")
    sexual = {label for label, rule in clf.policy.rules.items() if rule.category}
    per_label = collections.defaultdict(list)
    for found in detections:
        for d in found:
            if d.label in sexual:
                per_label[d.label].append(d.score)
    print("sexual-label detections on the benign set (score >= 0.25): "
          + (", ".join(f"{k} x{len(v)} (max {max(v):.3f})" for k, v in sorted(per_label.items())) or "none"))
    print("positives: 0 explicit images available offline -> recall NOT measured (no number is claimed)")

    people = [im for im in images if im.name.split("~")[0] in ("skimage.astronaut", "matplotlib.grace_hopper")
              or im.group == "face_closeup"]
    rgb = clf.detector.detect_batch([im.bgr for im in people])
    bgr = clf.detector.detect_batch([np.ascontiguousarray(im.bgr[:, :, ::-1]) for im in people])
    face = lambda found: max([d.score for d in found if d.label.startswith("FACE")], default=0.0)  # noqa: E731
    a, b = [face(f) for f in rgb], [face(f) for f in bgr]
    print(f"channel order on {len(people)} colour photos of people: faces found RGB {sum(x > 0 for x in a)} / "
          f"nudenet-BGR {sum(x > 0 for x in b)}; mean face score RGB {np.mean(a):.3f} vs BGR {np.mean(b):.3f}; "
          f"RGB higher on {sum(x > y for x, y in zip(a, b))} of {len(people)}")


def _wer(ref: str, hyp: str) -> tuple[int, int]:
    r, h = ref.split(), hyp.split()
    row = list(range(len(h) + 1))
    for i, x in enumerate(r, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(h, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1], len(r)


def audio_eval(use_prompt_classifier: bool) -> None:
    vad = load_vad()
    transcriber = PocketsphinxTranscriber()
    judges = {"terms": TermClassifier(load_policy())}
    if use_prompt_classifier:
        from safety.prompt_classifier import load_prompt_classifier
        judges["prompt classifier"] = load_prompt_classifier()
    chains = {name: AudioClassifier(vad, transcriber, text) for name, text in judges.items()}
    clips = speech_clips()
    print(f"\nAUDIO: VAD {vad.tag}, ASR {transcriber.tag}; {len(clips)} espeak-ng clips "
          f"({sum(not c.labels for c in clips)} benign), each padded with 0.5 s of silence")
    first = next(iter(chains.values()))
    heard, errors, words, found = {}, 0, 0, 0
    for c in clips:
        track = AudioTrack(np.concatenate([np.zeros(8000, np.int16), load_audio(SPEECH / c.file).samples,
                                           np.zeros(8000, np.int16)]))
        speech_s, utterances = first.transcribe(track)
        heard[c.file] = (speech_s, utterances)
        found += speech_s > 0
        e, n = _wer(c.text, " ".join(u.text for u in utterances))
        errors, words = errors + e, words + n
    print(f"VAD: speech found in {found}/{len(clips)} clips; pocketsphinx word error rate "
          f"{errors}/{words} = {100 * errors / words:.1f} %")
    rng = np.random.default_rng(0)
    from generator.procedural import parse_prompt, synth_audio
    quiet = {"silence 3 s": np.zeros(48000, np.int16),
             "white noise 3 s": np.clip(rng.normal(0, 3000, 48000), -32768, 32767).astype(np.int16),
             "50 Hz hum 3 s": (3000 * np.sin(2 * np.pi * 50 * np.arange(48000) / 16000)).astype(np.int16),
             "renderer's music 3 s": (np.clip(synth_audio(parse_prompt("a red ball bouncing at night"), 3.0, 16000)
                                              .mean(axis=0), -1, 1) * 32767).astype(np.int16)}
    for name, samples in quiet.items():
        segs = vad.segments(AudioTrack(samples))
        print(f"  non-speech {name}: {sum(s.duration_s for s in segs):.2f} s called speech")

    for name, chain in chains.items():
        print(f"\nchain VAD -> pocketsphinx -> {name} ({chain.text.version})")
        tp, fp, fn = collections.Counter(), collections.Counter(), collections.Counter()
        benign_flagged, caught = 0, 0
        for c in clips:
            result = chain.judge(*heard[c.file])
            predicted = set(result.scores)
            truth = set(c.labels)
            for cat in predicted | truth:
                tp[cat] += cat in predicted and cat in truth
                fp[cat] += cat in predicted and cat not in truth
                fn[cat] += cat in truth and cat not in predicted
            if not truth and result.decision is not Decision.ALLOW:
                benign_flagged += 1
            if truth and result.decision is not Decision.ALLOW:
                caught += 1
        print(f"  {'category':22} {'clips':>5} {'prec':>6} {'recall':>7}")
        for cat in sorted(set(tp) | set(fp) | set(fn)):
            n = tp[cat] + fn[cat]
            prec = tp[cat] / (tp[cat] + fp[cat]) if tp[cat] + fp[cat] else float("nan")
            rec = tp[cat] / n if n else float("nan")
            print(f"  {cat:22} {n:5d} {prec:6.2f} {rec:7.2f}")
        harmful = sum(bool(c.labels) for c in clips)
        benign = len(clips) - harmful
        print(f"  harmful clips flagged (review or block, any category): {caught}/{harmful}; "
              f"benign clips flagged: {benign_flagged}/{benign} = {100 * benign_flagged / benign:.1f} %")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompt-classifier", action="store_true",
                    help="also judge transcripts with the prompt classifier (loads MiniLM)")
    ap.add_argument("--only", choices=("frames", "audio"))
    args = ap.parse_args()
    if args.only != "audio":
        frames_eval()
    if args.only != "frames":
        audio_eval(args.prompt_classifier)


if __name__ == "__main__":
    main()
