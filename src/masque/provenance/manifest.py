"""C2PA manifests through c2pa-python: sign a finished file in place, and read one back.

A manifest is *valid* when its signature and every hash check out (c2pa-python reports
``Valid`` or ``Trusted``), *tampered* when a hash or signature does not match or the manifest
bytes cannot be parsed, *present* when it is intact but its credential is not acceptable
(expired, revoked, malformed chain), and *absent* when the file has none. A manifest signed by
masque's local key is valid but untrusted: nobody outside this machine vouches for that key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import c2pa

from masque.atomic import atomic_path
from masque.errors import ProvenanceError
from masque.provenance.keys import Credentials

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
SOURCE_TYPES = {"composite": IPTC + "compositeWithTrainedAlgorithmicMedia",
                "generated": IPTC + "trainedAlgorithmicMedia"}
WATERMARK_ASSERTION = "org.masque.watermark"
#: formats masque signs; c2pa-python reads more
MIME_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".mp4": "video/mp4",
              ".m4v": "video/mp4", ".mov": "video/quicktime"}


def labelled_name(name: str, is_video: bool) -> str:
    """The file name to write so a manifest can be embedded: ``name`` itself where the format
    takes one, else the same stem as ``.mp4`` (video) or ``.png`` (image)."""
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix in MIME_TYPES:
        return name
    stem = name[: -len(suffix)] if suffix else name
    return stem + (".mp4" if is_video else ".png")


# Failure codes that say nothing about the bytes having changed, only about the credential.
_CREDENTIAL_CODES = ("signingCredential.", "timeStamp.")

ManifestStatus = Literal["valid", "present", "tampered", "absent"]


@dataclass(frozen=True)
class ManifestReport:
    """What the C2PA manifest of a file says; see the module docstring for ``status``."""

    status: ManifestStatus
    validation_state: str | None = None
    trusted: bool = False
    digital_source_type: str | None = None
    software_agent: str | None = None
    signer: str | None = None
    run_id: str | None = None
    assertions: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    detail: str | None = None


def manifest_definition(kind: str, version: str, run_id: str, title: str,
                        description: str | None = None) -> dict[str, Any]:
    """The manifest JSON: one ``c2pa.created`` action with the IPTC source type, plus the run id.

    ``description`` says what was made (default: "face swap made with masque" for a composite,
    "generated with masque" otherwise).
    """
    agent = {"name": "masque", "version": version}
    default = "face swap made with masque" if kind == "composite" else "generated with masque"
    action = {"action": "c2pa.created", "digitalSourceType": SOURCE_TYPES[kind], "softwareAgent": agent,
              "description": description or default}
    return {
        "claim_generator_info": [agent],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [action]}},
            {"label": WATERMARK_ASSERTION, "data": {"scheme": "masque-watermark-v1", "run_id": run_id}},
        ],
    }


def sign_in_place(path: Path, definition: dict[str, Any], credentials: Credentials) -> None:
    """Embed a manifest signed with ``credentials`` into ``path``, replacing it atomically.

    Raises:
        ProvenanceError: unsupported format, bad credentials, or c2pa-python refused the file.
    """
    mime = MIME_TYPES.get(path.suffix.lower())
    if mime is None:
        raise ProvenanceError(
            f"cannot embed a C2PA manifest in {path}: masque signs {', '.join(sorted(MIME_TYPES))} files; "
            "the invisible watermark is in the pixels, but write one of these formats for a full label")
    try:
        info = c2pa.C2paSignerInfo(credentials.alg, credentials.chain_pem, credentials.key_pem, None)
        signer = c2pa.Signer.from_info(info)
    except (c2pa.C2paError, ValueError) as exc:
        raise ProvenanceError(f"cannot sign with {credentials.source}: {exc}") from exc
    # the signed copy replaces the file with the mode a plain write would give (not mkstemp's 0600)
    try:
        with atomic_path(path, suffix=".part" + path.suffix) as tmp, open(tmp, "w+b") as dest, \
                path.open("rb") as source, c2pa.Builder(definition) as builder:
            builder.sign(signer, mime, source, dest)
    except c2pa.C2paError as exc:
        raise ProvenanceError(f"could not embed a C2PA manifest in {path}: {exc}") from exc
    finally:
        signer.close()


def read_manifest(path: Path) -> ManifestReport:
    """Read and validate the C2PA manifest of ``path`` (never raises for a bad manifest)."""
    try:
        with c2pa.Reader(str(path)) as reader:
            active = reader.get_active_manifest() or {}
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
    except c2pa.C2paError.ManifestNotFound:
        return ManifestReport("absent")
    except c2pa.C2paError as exc:
        if _has_jumbf(path):
            return ManifestReport("tampered", detail=f"manifest cannot be parsed: {exc}")
        return ManifestReport("absent", detail=str(exc))
    failures = [f["code"] for f in results.get("activeManifest", {}).get("failure", [])]
    if state in ("Valid", "Trusted"):
        status: ManifestStatus = "valid"
    elif any(not code.startswith(_CREDENTIAL_CODES) for code in failures):
        status = "tampered"
    else:
        status = "present"
    return _summarise(active, status, state, failures)


def _summarise(active: dict[str, Any], status: ManifestStatus, state: str | None,
               failures: list[str]) -> ManifestReport:
    assertions = [{"label": a.get("label"), "data": a.get("data")} for a in active.get("assertions", [])]
    source = agent = run_id = None
    for a in assertions:
        data = a["data"] if isinstance(a["data"], dict) else {}
        if str(a["label"]).startswith("c2pa.actions"):
            for action in data.get("actions", []):
                source = source or action.get("digitalSourceType")
                sa = action.get("softwareAgent")
                agent = agent or (f"{sa.get('name')} {sa.get('version', '')}".strip() if isinstance(sa, dict) else sa)
        if a["label"] == WATERMARK_ASSERTION:
            run_id = data.get("run_id")
    sig = active.get("signature_info") or {}
    signer = ", ".join(str(sig[k]) for k in ("common_name", "issuer") if sig.get(k)) or None
    return ManifestReport(status, state, state == "Trusted", source, agent, signer, run_id, assertions, failures)


def _has_jumbf(path: Path) -> bool:
    """True when the file holds C2PA (JUMBF) bytes, read in blocks so large videos stay cheap."""
    tail = b""
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            chunk = tail + block
            if b"jumb" in chunk or b"c2pa" in chunk:
                return True
            tail = block[-8:]
    return False

