"""Self-Blended Images (Shiohara & Yamasaki, CVPR 2022): training fakes made from real faces alone.

A face is blended with a slightly transformed copy of itself: the copy (the "source") gets colour
and sharpness jitter and a small affine shift and scale, and is pasted back through a mask built
from the landmarks (one of several hull variants, deformed, eroded or dilated, blurred, at a random
opacity). What the detector then learns is what every face swap leaves behind, a blending boundary
and a statistical mismatch between the inner face and its surroundings, rather than the
fingerprint of one generator. Real and fake then share the same post-processing (JPEG, blur,
colour), so none of it can give the label away.

Everything here works on aligned ``(S, S, 3)`` ``uint8`` RGB crops with their ``(68, 2)``
landmarks in crop pixels, and takes a :class:`numpy.random.Generator` so that samples repeat.
"""

from __future__ import annotations

import cv2
import numpy as np

# hull variants of the landmark mask (the paper's four): whole face, face without the forehead
# band above the brows, the inner face (brows, eyes, nose, mouth), and the lower face
_JAW, _BROWS, _NOSE, _EYES, _MOUTH = range(17), range(17, 27), range(27, 36), range(36, 48), range(48, 68)


def _hull_points(lm: np.ndarray, variant: int) -> np.ndarray:
    if variant == 0:  # jaw plus brows raised over the forehead
        eyes = lm[36:48].mean(0)
        brows = lm[17:27] + (lm[17:27] - eyes) * 0.6
        return np.concatenate([lm[0:17], brows])
    if variant == 1:
        return lm[list(_JAW) + list(_BROWS)]
    if variant == 2:
        return lm[list(_BROWS) + list(_NOSE) + list(_EYES) + list(_MOUTH) + [3, 13, 8]]
    return lm[list(range(2, 15)) + list(_NOSE) + list(_MOUTH)]


def blend_mask(landmarks: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random SBI mask: ``(size, size)`` ``float32`` in [0, 1], 1 on the blended face.

    A hull variant of the landmarks, its outline jittered point by point (boundary jitter),
    an elastic warp, a random erosion or dilation, then a Gaussian feather of random width.
    """
    lm = np.asarray(landmarks, np.float32)
    pts = _hull_points(lm, int(rng.integers(4)))
    scale = size / 128.0
    pts = pts + rng.normal(0, 1.2 * scale, pts.shape).astype(np.float32)
    hull = cv2.convexHull(pts.astype(np.int32))
    mask = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(mask, hull, 255)
    mask = _elastic(mask, rng, 4.0 * scale)
    k = int(rng.integers(1, max(2, int(8 * scale))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    mask = np.asarray(cv2.erode(mask, kernel) if rng.random() < 0.5 else cv2.dilate(mask, kernel), np.uint8)
    sigma = float(rng.uniform(0.5, 6.0)) * scale
    out = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), sigma)
    # feathered masks keep their core at full strength; a few samples blend at part opacity
    return np.clip(out, 0.0, 1.0) * float(rng.choice([0.5, 0.75, 1.0, 1.0, 1.0, 1.0]))


def _elastic(mask: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Warp ``mask`` by a smooth random displacement field of about ``amount`` pixels."""
    h, w = mask.shape
    coarse = rng.normal(0, amount, (2, 5, 5)).astype(np.float32)
    dx = cv2.resize(coarse[0], (w, h), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(coarse[1], (w, h), interpolation=cv2.INTER_CUBIC)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(mask, gx + dx, gy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def jitter_source(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The source copy's own look: RGB shift, hue/saturation/brightness/contrast, sharpen or soften.

    ``image`` is ``(S, S, 3)`` ``uint8`` RGB; returns the same shape and dtype.
    """
    img = image.astype(np.float32)
    if rng.random() < 0.5:  # per-channel shift
        img += rng.uniform(-15, 15, 3).astype(np.float32)
    if rng.random() < 0.5:  # brightness and contrast
        img = (img - 128) * rng.uniform(0.85, 1.15) + 128 + rng.uniform(-12, 12)
    if rng.random() < 0.3:  # hue and saturation
        hsv = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-5, 5)) % 180
        hsv[..., 1] *= rng.uniform(0.8, 1.2)
        img = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    r = rng.random()
    size = image.shape[0]
    if r < 0.4:  # softer: down and up again, as a decoder's or warped face's would be
        small = max(8, int(size * rng.uniform(0.35, 0.85)))
        img = np.asarray(cv2.resize(cv2.resize(img, (small, small), interpolation=cv2.INTER_AREA), (size, size),
                                    interpolation=cv2.INTER_LINEAR), np.float32)
    elif r < 0.6:  # sharper
        blur = cv2.GaussianBlur(img, (0, 0), 1.0)
        img = img + rng.uniform(0.3, 1.0) * (img - blur)
    return np.clip(img, 0, 255).astype(np.uint8)


def shift_source(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A small random affine of the source copy: up to 3% shift, 0.95-1.05 scale, 2 degrees."""
    size = image.shape[0]
    scale = rng.uniform(0.95, 1.05)
    angle = rng.uniform(-2, 2)
    mat = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    mat[:, 2] += rng.uniform(-0.03, 0.03, 2) * size
    return cv2.warpAffine(image, mat, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


def self_blend(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One self-blended fake.

    Args:
        image: ``(S, S, 3)`` ``uint8`` RGB aligned face.
        landmarks: ``(68, 2)`` landmarks in the crop's pixels.
        rng: random source.

    Returns:
        ``(fake, mask)``: the ``(S, S, 3)`` ``uint8`` RGB blend and its ``(S, S)`` ``float32`` mask
        in [0, 1] (where the source copy shows through).
    """
    size = image.shape[0]
    source, target = image, image
    if rng.random() < 0.5:  # which side carries the jitter: the paper swaps them at random
        source = jitter_source(image, rng)
    else:
        target = jitter_source(image, rng)
    source = shift_source(source, rng)
    mask = blend_mask(landmarks, size, rng)
    m = mask[..., None]
    fake = source.astype(np.float32) * m + target.astype(np.float32) * (1 - m)
    return np.clip(fake + 0.5, 0, 255).astype(np.uint8), mask


def common_augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Post-processing applied alike to reals and fakes: colour, blur or noise, JPEG.

    ``(S, S, 3)`` ``uint8`` RGB in and out.
    """
    img = image
    if rng.random() < 0.5:
        f: np.ndarray = img.astype(np.float32)
        f = (f - 128) * rng.uniform(0.85, 1.15) + 128 + rng.uniform(-15, 15) + rng.uniform(-6, 6, 3)
        img = np.clip(f, 0, 255).astype(np.uint8)
    r = rng.random()
    if r < 0.2:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.2))
    elif r < 0.3:
        noise = rng.normal(0, rng.uniform(1, 5), img.shape)
        img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.6:
        img = jpeg(img, int(rng.integers(40, 96)))
    return img


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` (RGB ``uint8``) through a JPEG round trip at ``quality``."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
    return image if decoded is None else cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


# Self-warped fakes: what a reenactment leaves behind when there is no blending boundary.
#: how far a warp's strongest landmark edit moves points, as a share of the face's width
_WARP_AMOUNT = (0.03, 0.09)
#: a warp fake's mask is 1 where pixels moved at least this far (px at 128 px), ramping up from 0
_WARP_FULL_PX = 1.0


def drive_landmarks(landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``landmarks`` moved as a reenactment would move them: one to three random edits.

    Edits: the mouth opened or closed (lower lip and chin), the eyelids closed or widened, the
    brows raised or lowered, a smile or pout (mouth corners), and a small head motion (the inner
    face shifted, rotated and scaled against the outline, as a turn or nod moves it). ``(68, 2)``
    ``float32`` in and out, in the same pixels.
    """
    lm = np.asarray(landmarks, np.float32)
    out = lm.copy()
    width = float(np.ptp(lm[:, 0])) or 1.0
    up = lm[17:27].mean(0) - lm[48:68].mean(0)
    up = up / max(float(np.linalg.norm(up)), 1e-6)
    side = np.array([-up[1], up[0]], np.float32)
    for edit in rng.choice(5, size=int(rng.integers(1, 4)), replace=False):
        amount = float(rng.uniform(*_WARP_AMOUNT)) * width * float(rng.choice([-1.0, 1.0]))
        if edit == 0:  # mouth open (+) or closed (-): lower lip and chin go down, the chin half as far
            out[[55, 56, 57, 58, 59, 65, 66, 67]] -= up * amount
            out[5:12] -= up * amount * 0.5
        elif edit == 1:  # eyelids: upper lids towards (+) or away from (-) the lower ones
            for upper, lower in (([37, 38], [41, 40]), ([43, 44], [47, 46])):
                gap = out[lower] - out[upper]
                out[upper] += gap * float(np.clip(amount / (0.09 * width), -0.6, 1.0))
        elif edit == 2:  # brows up or down
            out[17:27] += up * amount * 0.6
        elif edit == 3:  # mouth corners out and up (smile) or in (pout)
            out[48] -= side * amount * 0.5 - up * abs(amount) * 0.3
            out[54] += side * amount * 0.5 + up * abs(amount) * 0.3
        else:  # head motion: the inner face (brows, nose, eyes, mouth) moved against the outline
            inner = np.arange(17, 68)
            centre = out[inner].mean(0)
            angle = np.deg2rad(float(rng.uniform(-4, 4)))
            rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
            shift = (side * float(rng.uniform(-1, 1)) + up * float(rng.uniform(-0.5, 0.5))) * abs(amount) * 0.6
            out[inner] = (out[inner] - centre) @ rot.T * float(rng.uniform(0.97, 1.03)) + centre + shift
    return out


def self_warp(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One self-warped fake: the face moved by :func:`drive_landmarks` through a mesh warp.

    The same piecewise-affine warp over a Delaunay mesh of the landmarks that ``masque animate``
    and other reenactment tools use (:func:`masque.compose.warp.warp_mesh`, bilinear resampling),
    with the mesh's outer ring held still so the warp fades out inside the crop and leaves no seam.
    The evidence is the resampling itself: stretched, softened or re-interpolated pixels where the
    mesh moved, beside untouched ones where it did not. A random part of the time the crop is also
    shifted by a fraction of a pixel everywhere the face moved (a rigid head motion's resampling).

    Args:
        image: ``(S, S, 3)`` ``uint8`` RGB aligned face.
        landmarks: ``(68, 2)`` landmarks in the crop's pixels.
        rng: random source.

    Returns:
        ``(fake, mask)``: the ``(S, S, 3)`` ``uint8`` RGB warp and its ``(S, S)`` ``float32`` mask
        in [0, 1]: 1 where pixels moved by ``1`` px (at 128 px) or more, ramping up from 0.
    """
    from masque.compose.warp import mesh_points, triangulate, warp_mesh

    size = image.shape[0]
    lm = np.asarray(landmarks, np.float32)
    driven = drive_landmarks(lm, rng)
    if rng.random() < 0.5:  # a sub-pixel rigid motion of the whole face inside the ring
        driven = driven + rng.uniform(-0.7, 0.7, 2).astype(np.float32) * size / 128.0
    src = mesh_points(lm)
    dst = mesh_points(driven)
    dst[78:] = src[78:]  # the outer ring stays: the warp fades to nothing at it
    triangles = triangulate(lm)
    warped, covered = warp_mesh(image, src, dst, triangles, (0, 0, size, size), step=1)
    grid = np.stack(np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32)), -1)
    coords = np.concatenate([grid, np.zeros((size, size, 1), np.float32)], -1)
    moved, _ = warp_mesh(coords, src, dst, triangles, (0, 0, size, size), step=1)
    shift = np.linalg.norm(moved[..., :2] - grid, axis=-1)
    mask = np.where(covered, np.clip(shift / (_WARP_FULL_PX * size / 128.0), 0.0, 1.0), 0.0).astype(np.float32)
    fake = np.where(covered[..., None], warped, image)
    return fake, mask


def make_fake(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator,
              warp_share: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A training fake: :func:`self_warp` with probability ``warp_share``, else :func:`self_blend`."""
    if warp_share > 0 and rng.random() < warp_share:
        return self_warp(image, landmarks, rng)
    return self_blend(image, landmarks, rng)
