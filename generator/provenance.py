"""C2PA provenance: every render carries a manifest signed with c2pa-python, and any file's
manifest can be read back and validated.

The manifest says what made the video (a `c2pa.created` action, IPTC's
`trainedAlgorithmicMedia`, our model and its weights as the software agent), which gates let it
through (each pre-render stage's name, policy version and decision) and a consent receipt for
every person shown (the cameo's id hashed, never the id, and the permission in force). No
timestamp authority is reachable offline: manifests are signed without one, so a verifier
checks the certificate's validity against the signing time the claim states.

The signing credential is a certificate chain and its private key (GL_C2PA_CERT, GL_C2PA_KEY).
When neither is set, a development CA and leaf are made in `<instance>/provenance/` on first use
(as `greenlight provenance init` does): fine for one machine, not for a published service,
whose verifiers trust no CA of ours. GL_C2PA_TRUST_ANCHORS names the CAs a verification trusts
(default: the development CA, when there is one).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CHAIN_FILE, KEY_FILE, CA_FILE = "signer-chain.pem", "signer-key.pem", "ca.pem"
POLICIES_LABEL, CONSENT_LABEL, GENERATION_LABEL = "org.greenlight.policies", "org.greenlight.consent", \
    "org.greenlight.generation"
_lock = threading.Lock()


@dataclass(frozen=True)
class Credential:
    chain: Path   # leaf first, then its CA
    key: Path
    trust: Path | None  # CAs a verification trusts


def default_dir() -> Path:
    from app.config import instance_dir
    return instance_dir() / "provenance"


def credential() -> Credential:
    """The configured signing credential, or the development one (made now if missing)."""
    from app.config import setting
    cert, key = setting("GL_C2PA_CERT"), setting("GL_C2PA_KEY")
    trust = setting("GL_C2PA_TRUST_ANCHORS")
    if cert or key:
        if not (cert and key):
            raise ProvenanceError("set both GL_C2PA_CERT and GL_C2PA_KEY, or neither (a development signer)")
        return Credential(Path(cert), Path(key), Path(trust) if trust else None)
    directory = default_dir()
    with _lock:
        if not (directory / KEY_FILE).exists():
            init(directory)
    return Credential(directory / CHAIN_FILE, directory / KEY_FILE, Path(trust) if trust else directory / CA_FILE)


class ProvenanceError(RuntimeError):
    pass


def init(directory: Path, *, force: bool = False, days: int = 365) -> Credential:
    """A development CA and a signing leaf under it, written to `directory` (the key 0600)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    from app.storage import private_dir

    if (directory / KEY_FILE).exists() and not force:
        raise ProvenanceError(f"{directory / KEY_FILE} exists; pass force to replace it")
    private_dir(directory)
    now = dt.datetime.now(dt.UTC)

    def name(common: str):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Greenlight (development)")])

    def usage(**on: bool):
        flags = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                               "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"), False)
        return x509.KeyUsage(**(flags | on))

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("Greenlight development CA")).issuer_name(
        name("Greenlight development CA")).public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=days * 5))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256()))
    # C2PA wants a leaf that signs (digitalSignature) for a purpose it lists (emailProtection here)
    leaf = (x509.CertificateBuilder().subject_name(name("Greenlight development signer")).issuer_name(ca.subject)
            .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    _write(directory / KEY_FILE, leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()), 0o600)
    _write(directory / CHAIN_FILE, leaf.public_bytes(pem) + ca.public_bytes(pem), 0o644)
    _write(directory / CA_FILE, ca.public_bytes(pem), 0o644)
    return Credential(directory / CHAIN_FILE, directory / KEY_FILE, directory / CA_FILE)


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def manifest(*, title: str, model: str, generation_id: str, policies: list[dict[str, Any]],
             consent: list[dict[str, Any]]) -> dict[str, Any]:
    from importlib.metadata import version
    return {
        "claim_generator_info": [{"name": "Greenlight", "version": version("greenlight")}],
        "title": title,
        "format": "video/mp4",
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": [{
                "action": "c2pa.created", "digitalSourceType": DIGITAL_SOURCE_TYPE,
                "softwareAgent": {"name": "Greenlight video model", "version": model}}]}},
            {"label": GENERATION_LABEL, "data": {"generation_id": generation_id}},
            {"label": POLICIES_LABEL, "data": {"gates": policies}},
            {"label": CONSENT_LABEL, "data": {"cameos": consent}},
        ],
    }


def sign(source: Path, target: Path, claims: dict[str, Any], cred: Credential | None = None) -> None:
    """Write `source` with the manifest embedded to `target` (a temporary file renamed into place)."""
    import c2pa

    from generator.encode import partial_file

    cred = cred or credential()
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, cred.chain.read_bytes(), cred.key.read_bytes(), None)
    tmp = partial_file(target)
    try:
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder(json.dumps(claims)) as builder, \
                open(source, "rb") as src, open(tmp, "w+b") as dst:
            builder.sign(signer, "video/mp4", src, dst)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class ManifestReading:
    present: bool
    state: str | None            # C2PA's validation state: Invalid, Valid (signature) or Trusted (and its CA)
    failures: list[str]          # the validation codes that failed
    manifest: dict[str, Any] | None

    def assertion(self, label: str) -> Any:
        for item in (self.manifest or {}).get("assertions", []):
            if item.get("label") == label:
                return item.get("data")
        return None


def read(path: Path, trust: Path | None = None) -> ManifestReading:
    """The file's active manifest and its validation, against `trust` (default: the credential's)."""
    import c2pa

    if trust is None:
        from app.config import setting
        configured = setting("GL_C2PA_TRUST_ANCHORS")
        trust = Path(configured) if configured else default_dir() / CA_FILE
    settings: dict[str, Any] = {"verify": {"verify_trust": True}}
    if trust.is_file():
        settings["trust"] = {"trust_anchors": trust.read_text()}
    try:
        with c2pa.Context.from_dict(settings) as context:
            reader = c2pa.Reader.try_create(str(path), context=context)
            if reader is None:
                return ManifestReading(False, None, [], None)
            with reader:
                results = reader.get_validation_results() or {}
                failures = [f["code"] for f in (results.get("activeManifest") or {}).get("failure", [])]
                return ManifestReading(True, reader.get_validation_state(), failures, reader.get_active_manifest())
    except c2pa.C2paError as exc:
        return ManifestReading(False, f"unreadable: {type(exc).__name__}", [], None)
