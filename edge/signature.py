"""Bundle signatures: Ed25519 over the manifest, checked against a trust store of public keys.

What is signed: the exact bytes of ``manifest.json``. The manifest lists every file of the
bundle with its SHA-256 (:mod:`edge.bundle` checks them), so one signature covers the model,
its labels, which classes alert, the open-set guard and the front-end config.

Files (all inside the bundle directory, never symlinks):

    <bundle>/manifest.json       the signed bytes
    <bundle>/manifest.sig        JSON: {"algorithm": "ed25519", "key_id": "<16 hex>",
                                        "signature": "<base64 of the 64-byte signature>"}

Keys: a public key file holds the 32 raw Ed25519 public-key bytes in base64 on one line
(``*.pub``); its ``key_id`` is the first 16 hex digits of SHA-256 over those 32 bytes. The
private key is a PKCS#8 PEM file (``emg-convert keygen``), created with mode 0600.

A *trust store* is a directory of ``*.pub`` files (``/etc/emg-edge/trusted-keys/`` by default,
``--trusted-keys DIR`` or ``EMG_EDGE_TRUSTED_KEYS``). When one is configured, a bundle runs only
if ``manifest.sig`` verifies under one of its keys. The shipped bundles need no key: their
manifest digests are pinned in the package (``edge/bundles/pins.json``).

Uses ``cryptography`` (PyCA): Ed25519 is not something to write ourselves.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

SIGNATURE_FILE = "manifest.sig"
ALGORITHM = "ed25519"
#: Trust store used when none is given and the directory exists.
DEFAULT_TRUST_DIR = Path("/etc/emg-edge/trusted-keys")
TRUST_ENV = "EMG_EDGE_TRUSTED_KEYS"
_PUBLIC_KEY_BYTES = 32


class SignatureError(Exception):
    """A key, a signature file or a trust store is malformed, or a signature does not verify."""


def key_id(public_raw: bytes) -> str:
    """First 16 hex digits of SHA-256 over the 32 raw public-key bytes."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    raw: bytes
    source: str  # file it came from, for messages

    def verify(self, signature: bytes, data: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, data)
        except InvalidSignature:
            return False
        return True


def parse_public_key(text: str, source: str = "key") -> PublicKey:
    """A ``*.pub`` file's text (base64 of 32 raw bytes) → :class:`PublicKey`."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{source}: not a base64 Ed25519 public key") from None
    if len(raw) != _PUBLIC_KEY_BYTES:
        raise SignatureError(f"{source}: an Ed25519 public key is {_PUBLIC_KEY_BYTES} bytes, got {len(raw)}")
    return PublicKey(key_id(raw), raw, source)


def trust_dir(explicit: str | Path | None = None) -> Path | None:
    """The configured trust store: ``explicit``, else ``$EMG_EDGE_TRUSTED_KEYS``, else
    :data:`DEFAULT_TRUST_DIR` if it exists; None when no store is configured."""
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get(TRUST_ENV)
    if env:
        return Path(env).expanduser()
    return DEFAULT_TRUST_DIR if DEFAULT_TRUST_DIR.is_dir() else None


def load_trust_store(directory: str | Path) -> dict[str, PublicKey]:
    """Every ``*.pub`` in ``directory`` by key id. A configured store that is missing, empty
    or holds a malformed key is an error: a typo must not silently disable verification."""
    d = Path(directory)
    if not d.is_dir():
        raise SignatureError(f"trust store {d} is not a directory")
    keys: dict[str, PublicKey] = {}
    for f in sorted(d.glob("*.pub")):
        if f.is_symlink() or not f.is_file():
            raise SignatureError(f"trust store {d}: {f.name} is not a regular file")
        k = parse_public_key(f.read_text(encoding="ascii", errors="replace"), str(f))
        keys[k.key_id] = k
    if not keys:
        raise SignatureError(f"trust store {d} holds no *.pub key")
    return keys


@dataclass(frozen=True)
class Signature:
    key_id: str
    signature: bytes


def read_signature(bundle_dir: Path) -> Signature | None:
    """``manifest.sig`` of a bundle, or None when the bundle is unsigned."""
    p = bundle_dir / SIGNATURE_FILE
    if not p.exists() and not p.is_symlink():
        return None
    if p.is_symlink() or not p.is_file():
        raise SignatureError(f"{p}: must be a regular file inside the bundle")
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(d, dict) or d.get("algorithm") != ALGORITHM:
            raise ValueError(f"algorithm must be {ALGORITHM!r}")
        kid, sig = d.get("key_id"), d.get("signature")
        if not isinstance(kid, str) or not isinstance(sig, str):
            raise ValueError("key_id and signature must be strings")
        raw = base64.b64decode(sig, validate=True)
    except (UnicodeDecodeError, ValueError, binascii.Error) as exc:
        raise SignatureError(f"{p}: malformed signature file ({exc})") from None
    return Signature(kid, raw)


def verify_manifest(manifest_bytes: bytes, sig: Signature, keys: dict[str, PublicKey]) -> PublicKey:
    """The trusted key that signed ``manifest_bytes``; :class:`SignatureError` otherwise."""
    key = keys.get(sig.key_id)
    if key is None:
        raise SignatureError(f"signed by key {sig.key_id}, which is not in the trust store")
    if not key.verify(sig.signature, manifest_bytes):
        raise SignatureError(f"signature by key {sig.key_id} does not match the manifest (tampered?)")
    return key


# -- build side (used by ``emg-convert keygen`` / ``sign``; no network, no state) ---------------

def generate_keypair(private_path: Path, public_path: Path) -> str:
    """Write a new Ed25519 private key (PKCS#8 PEM, mode 0600) and its ``.pub``; its key id."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    for p in (private_path, public_path):
        if p.exists():
            raise SignatureError(f"{p} exists; refusing to overwrite a key")
    priv = Ed25519PrivateKey.generate()
    pem = priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    raw = priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public_path.write_text(base64.b64encode(raw).decode("ascii") + "\n", encoding="ascii")
    return key_id(raw)


def sign_bundle(bundle_dir: Path, private_path: Path) -> str:
    """Sign ``bundle_dir/manifest.json`` with the PEM private key; writes ``manifest.sig``;
    returns the key id. The caller has validated the bundle (its files match the manifest)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        priv = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SignatureError(f"{private_path}: cannot read an unencrypted PEM private key ({exc})") from None
    if not isinstance(priv, Ed25519PrivateKey):
        raise SignatureError(f"{private_path}: not an Ed25519 private key")
    raw = priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    data = (bundle_dir / "manifest.json").read_bytes()
    doc = {"algorithm": ALGORITHM, "key_id": key_id(raw),
           "signature": base64.b64encode(priv.sign(data)).decode("ascii")}
    (bundle_dir / SIGNATURE_FILE).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return doc["key_id"]
