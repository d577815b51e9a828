"""Signing credentials for C2PA manifests: created on first use, or the user's own.

C2PA (and c2pa-rs behind c2pa-python) rejects a self-signed end-entity certificate: the signer
must be a leaf with ``digitalSignature`` key usage and an allowed extended key usage, issued by a
CA. So on first use masque makes a tiny private CA and one ES256 leaf it issues, in
``<config>/signing/``. Readers that do not trust that CA report the manifest as valid but signed
by an untrusted credential, which is the honest state of a local key.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from masque.errors import InputNotFoundError, ProvenanceError

CERT_FILE, KEY_FILE, CA_FILE = "cert.pem", "key.pem", "ca.pem"
_VALID_DAYS = 3650


def config_dir() -> Path:
    """masque's config folder: ``$MASQUE_CONFIG``, else ``$XDG_CONFIG_HOME/masque``, else ``~/.config/masque``."""
    override = os.environ.get("MASQUE_CONFIG")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".config") / "masque"


@dataclass(frozen=True)
class Credentials:
    """A PEM certificate chain (leaf first), its PEM private key, and the C2PA algorithm name."""

    chain_pem: bytes
    key_pem: bytes
    alg: str
    source: str


def load_credentials(cert: Path | None, key: Path | None) -> Credentials:
    """The user's ``cert``/``key`` when given, else the local masque key pair (created if missing).

    Raises:
        InputNotFoundError: a given file does not exist.
        ProvenanceError: only one of the two is given, or they cannot be parsed.
    """
    if (cert is None) != (key is None):
        raise ProvenanceError("give both --sign-cert and --sign-key, or neither to use masque's local key")
    if cert is None or key is None:
        folder = ensure_local_credentials()
        cert, key = folder / CERT_FILE, folder / KEY_FILE
    for p in (cert, key):
        if not p.is_file():
            raise InputNotFoundError(f"signing file not found: {p}")
    chain, key_pem = cert.read_bytes(), key.read_bytes()
    return Credentials(chain, key_pem, _algorithm(key_pem, key), f"{cert}")


def _algorithm(key_pem: bytes, path: Path) -> str:
    """The C2PA signing algorithm that matches the private key's type."""
    try:
        private = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ProvenanceError(f"cannot read the private key {path}: {exc} (an unencrypted PEM key is needed)") from exc
    if isinstance(private, ec.EllipticCurvePrivateKey):
        by_curve = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if private.curve.name in by_curve:
            return by_curve[private.curve.name]
    if isinstance(private, rsa.RSAPrivateKey):
        return "ps256"
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise ProvenanceError(f"{path}: unsupported key type for C2PA; use EC P-256/384/521, RSA or Ed25519")


def ensure_local_credentials() -> Path:
    """The folder holding masque's local CA and signing key, created atomically on first use."""
    folder = config_dir() / "signing"
    if (folder / CERT_FILE).is_file() and (folder / KEY_FILE).is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".signing-"))
    try:
        for name, data in _new_credentials().items():
            (tmp / name).write_bytes(data)
        (tmp / KEY_FILE).chmod(0o600)
        tmp.chmod(0o700)
        try:
            os.rename(tmp, folder)  # atomic; fails if another process got there first
        except OSError:
            if not (folder / CERT_FILE).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "masque (local, self-issued)")])


def _key_usage(sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=not sign,
                         crl_sign=not sign, encipher_only=False, decipher_only=False)


def _new_credentials() -> dict[str, bytes]:
    """A fresh P-256 CA and a leaf it issues, as PEM files: leaf + CA chain, leaf key, CA cert."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # tolerate small clock skew
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name, leaf_name = _name("masque local CA"), _name("masque local signer")

    def base(subject: x509.Name, public: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(public)
                .serial_number(x509.random_serial_number()).not_valid_before(now)
                .not_valid_after(now + dt.timedelta(days=_VALID_DAYS))
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False))

    ca = (base(ca_name, ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(_key_usage(sign=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (base(leaf_name, leaf_key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(sign=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return {
        CERT_FILE: leaf.public_bytes(pem) + ca.public_bytes(pem),
        KEY_FILE: leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        CA_FILE: ca.public_bytes(pem),
    }
