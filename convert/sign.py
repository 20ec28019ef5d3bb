"""``emg-convert keygen`` and ``emg-convert sign``: Ed25519 keys and bundle signatures.

    emg-convert keygen --out keys/clinic-2026          # keys/clinic-2026.pem (0600) + .pub
    emg-convert sign out/bundle --key keys/clinic-2026.pem

The device trusts the ``.pub`` files in its trust store (``/etc/emg-edge/trusted-keys/`` or
``emg-edge run --trusted-keys DIR``); keep the ``.pem`` off the device. The bundle is loaded
and every file checked against its manifest before the manifest is signed, so a signature
never vouches for a bundle that would not load. Format and threat model: ``edge/signature.py``,
``docs/SECURITY.md``.
"""

from __future__ import annotations

from pathlib import Path

from edge import signature as sig
from edge.bundle import BundleError, load_bundle
from clikit import UserError


def keygen(out: Path) -> str:
    """Write ``<out>.pem`` and ``<out>.pub``; the new key's id."""
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        return sig.generate_keypair(out.with_suffix(".pem"), out.with_suffix(".pub"))
    except sig.SignatureError as exc:
        raise UserError(str(exc)) from None


def sign(bundle: Path, key: Path) -> str:
    """Validate ``bundle`` (files against manifest), then sign its manifest; the key id."""
    if not key.is_file():
        raise UserError(f"private key {key} not found")
    try:
        load_bundle(bundle, verify_hash=True, authenticate=False)
    except BundleError as exc:
        raise UserError(f"not signing: {exc}") from None
    try:
        return sig.sign_bundle(bundle, key)
    except sig.SignatureError as exc:
        raise UserError(str(exc)) from None


def _keygen(args) -> int:
    kid = keygen(Path(args.out))
    print(f"key {kid}: private {Path(args.out).with_suffix('.pem')} (keep secret), "
          f"public {Path(args.out).with_suffix('.pub')} (copy to the device's trust store)")
    return 0


def _sign(args) -> int:
    kid = sign(Path(args.bundle), Path(args.key))
    print(f"signed {args.bundle}/manifest.json with key {kid} → {args.bundle}/{sig.SIGNATURE_FILE}")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("keygen", help="create an Ed25519 key pair for signing bundles",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="path stem: writes STEM.pem (private, 0600) and STEM.pub")
    p.set_defaults(func=_keygen)
    s = subparsers.add_parser("sign", help="sign a bundle's manifest (after checking its files)",
                              description=__doc__.split("\n\n")[0])
    s.add_argument("bundle", help="bundle directory")
    s.add_argument("--key", required=True, help="private key PEM from emg-convert keygen")
    s.set_defaults(func=_sign)
