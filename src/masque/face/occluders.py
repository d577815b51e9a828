"""Synthetic occluders for training the occlusion model (:mod:`masque.face.occlusion`).

Every training face gets 0 to 3 things pasted in front of it, and because they are pasted, the
ground truth is known. What is drawn, all in the pixels of the aligned crop and sized from its
landmarks:

- **hands**: a palm and four or five fingers coming in from an edge, textured with skin cut from
  a face (half of the time the *same* face: one's own hand has one's own skin tone, the hard
  case), shaded, with a soft shadow on the face;
- **glasses**: rims around both eyes (round, oval or rectangular; thin dark, metal or coloured),
  a bridge and temples toward the ears, and half the time tinted lenses;
- **hair**: bundles of thin curved strands from the top or a side, dark to blond;
- **a microphone**: a dark bar with a round, meshed head;
- **patches and shapes**: ellipses, polygons and thick strokes filled with flat colour, a
  gradient, or a patch cut from another image (another face, a background).

The label is 1 on visible face (inside the landmark hull of jaw, brows and forehead) and 0 on
an occluder and outside the face; a clear lens (tint under :data:`_LENS_OCCLUDES`) counts as
face, its rim does not.
"""

from __future__ import annotations

import cv2
import numpy as np

from masque.face.mask import landmark_mask

#: lens opacity from which a tinted lens counts as an occluder, not as the eye behind it
_LENS_OCCLUDES = 0.45
_SHIFT = 4  # sub-pixel bits for OpenCV drawing
_ONE = 1 << _SHIFT


def _pts(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points, np.float64) * _ONE).astype(np.int32)


def _face_scale(lm: np.ndarray) -> float:
    """Distance between the eye centres, the unit every occluder is sized in."""
    return float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))


def _texture(rng: np.random.Generator, size: int, sources: list[np.ndarray]) -> np.ndarray:
    """A ``(size, size, 3)`` ``float32`` texture in [0, 255]: flat colour, a gradient or an image patch."""
    kind = rng.random()
    if kind < 0.25 or not sources:
        col = rng.uniform(0, 255, 3)
        tex = np.broadcast_to(col, (size, size, 3)).astype(np.float32).copy()
        tex += rng.normal(0, rng.uniform(0, 12), (size, size, 1)).astype(np.float32)
    elif kind < 0.4:
        a, b = rng.uniform(0, 255, (2, 3))
        t = np.linspace(0, 1, size, dtype=np.float32)
        ramp = t[:, None] if rng.random() < 0.5 else t[None, :]
        tex = (a + (b - a) * ramp[..., None]).astype(np.float32) * np.ones((size, size, 1), np.float32)
    else:
        src = sources[rng.integers(len(sources))]
        h, w = src.shape[:2]
        side = int(rng.integers(max(8, min(h, w) // 8), max(9, min(h, w))))
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        tex = cv2.resize(src[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    return tex


def _skin_texture(rng: np.random.Generator, size: int, face: np.ndarray, lm: np.ndarray,
                  others: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Skin cut from a cheek (of ``face`` half of the time, else of another face), tiled to ``size``."""
    if others and rng.random() < 0.5:
        face, lm = others[rng.integers(len(others))]
    unit = _face_scale(lm)
    side = rng.choice([1, -1])
    cheek = lm[[2, 3, 31, 48]] if side > 0 else lm[[14, 13, 35, 54]]
    c = cheek.mean(0)
    r = max(2, int(0.25 * unit))
    x0, y0 = np.clip(np.round(c - r).astype(int), 0, np.array(face.shape[1::-1]) - 2 * r - 1)
    patch = face[y0:y0 + 2 * r, x0:x0 + 2 * r].astype(np.float32)
    patch = np.concatenate([patch, patch[::-1]], 0)
    patch = np.concatenate([patch, patch[:, ::-1]], 1)  # mirrored tiles join without a step
    tex = cv2.resize(patch, (size, size), interpolation=cv2.INTER_LINEAR)
    tex *= rng.uniform(0.8, 1.2, 3).astype(np.float32)  # a hand is rarely exactly the face's tone
    return tex


def _hand(rng: np.random.Generator, shape: tuple[int, int], lm: np.ndarray) -> np.ndarray:
    """A palm and fingers coming in from an edge toward the face; ``(H, W)`` ``uint8`` 0/255."""
    h, w = shape
    unit = _face_scale(lm)
    mask = np.zeros(shape, np.uint8)
    target = lm[rng.integers(0, 68)] + rng.normal(0, 0.3 * unit, 2)
    edge_angle = rng.uniform(0, 2 * np.pi)
    start = np.array([w / 2, h / 2]) + np.array([np.cos(edge_angle), np.sin(edge_angle)]) * max(h, w) * 0.7
    direction = (target - start) / max(np.linalg.norm(target - start), 1e-6)
    palm_len = rng.uniform(0.8, 1.4) * unit
    palm_w = rng.uniform(0.7, 1.2) * unit
    palm = target - direction * palm_len * 0.5
    normal = np.array([-direction[1], direction[0]])
    # the arm: from beyond the edge to the palm
    cv2.line(mask, tuple(_pts(start)), tuple(_pts(palm)), 255, max(1, int(palm_w * 0.8)), cv2.LINE_AA, _SHIFT)
    angle = float(np.degrees(np.arctan2(direction[1], direction[0])))
    cv2.ellipse(mask, tuple(_pts(palm)), tuple(_pts(np.array([palm_len / 2, palm_w / 2]))), angle, 0, 360, 255, -1,
                cv2.LINE_AA, _SHIFT)
    fingers = int(rng.integers(2, 6))
    spread = rng.uniform(0.1, 0.5)
    for i in range(fingers):
        off = (i - (fingers - 1) / 2) / max(fingers - 1, 1)
        base = palm + direction * palm_len * 0.4 + normal * off * palm_w * 0.8
        fdir = direction + normal * off * spread + rng.normal(0, 0.1, 2)
        fdir /= np.linalg.norm(fdir)
        tip = base + fdir * rng.uniform(0.5, 1.1) * unit
        width = max(1, int(round(rng.uniform(0.15, 0.25) * unit)))
        cv2.line(mask, tuple(_pts(base)), tuple(_pts(tip)), 255, width, cv2.LINE_AA, _SHIFT)
    return mask


def _glasses(rng: np.random.Generator, shape: tuple[int, int], lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rims, bridge and temples (``rims``) and the lens area (``lenses``), ``(H, W)`` ``uint8`` 0/255 each."""
    unit = _face_scale(lm)
    rims, lenses = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
    left, right = lm[36:42].mean(0), lm[42:48].mean(0)
    axis = (right - left) / max(np.linalg.norm(right - left), 1e-6)
    angle = float(np.degrees(np.arctan2(axis[1], axis[0])))
    half_w = rng.uniform(0.35, 0.5) * unit
    half_h = half_w * rng.uniform(0.55, 1.0)
    drop = np.array([-axis[1], axis[0]]) * rng.uniform(0.0, 0.15) * unit  # lenses sit a little low
    thick = max(1, int(round(rng.uniform(0.03, 0.12) * unit)))
    square = rng.random() < 0.5
    for centre in (left + drop, right + drop):
        lens = np.zeros(shape, np.uint8)
        if square:
            corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * [half_w, half_h]
            rot = np.array([[axis[0], -axis[1]], [axis[1], axis[0]]])
            cv2.fillPoly(lens, [_pts(centre + corners @ rot.T)], 255, cv2.LINE_AA, _SHIFT)
        else:
            cv2.ellipse(lens, tuple(_pts(centre)), tuple(_pts(np.array([half_w, half_h]))), angle, 0, 360, 255, -1,
                        cv2.LINE_AA, _SHIFT)
        lenses = np.maximum(lenses, lens)
        edge = cv2.morphologyEx(lens, cv2.MORPH_GRADIENT, np.ones((2 * thick + 1,) * 2, np.uint8))
        rims = np.maximum(rims, edge)
    inner_l, inner_r = left + drop + axis * half_w, right + drop - axis * half_w
    cv2.line(rims, tuple(_pts(inner_l)), tuple(_pts(inner_r)), 255, thick, cv2.LINE_AA, _SHIFT)
    for centre, sign, ear in ((left + drop, -1, lm[0]), (right + drop, 1, lm[16])):
        hinge = centre + sign * axis * half_w
        cv2.line(rims, tuple(_pts(hinge)), tuple(_pts(ear + sign * axis * 0.1 * unit)), 255, thick,
                 cv2.LINE_AA, _SHIFT)
    return rims, lenses


def _hair(rng: np.random.Generator, shape: tuple[int, int], lm: np.ndarray) -> np.ndarray:
    """A bundle of thin curved strands falling from the top or a side, ``(H, W)`` ``uint8`` 0/255."""
    unit = _face_scale(lm)
    mask = np.zeros(shape, np.uint8)
    h, w = shape
    root = np.array([rng.uniform(0.1, 0.9) * w, rng.uniform(-0.1, 0.2) * h])
    if rng.random() < 0.3:
        root = np.array([rng.choice([0.0, w]), rng.uniform(0.1, 0.5) * h])
    goal = lm[rng.integers(0, 68)] + rng.normal(0, 0.5 * unit, 2)
    for _ in range(int(rng.integers(3, 25))):
        r0 = root + rng.normal(0, 0.25 * unit, 2)
        ctrl = (r0 + goal) / 2 + rng.normal(0, 0.4 * unit, 2)
        end = goal + rng.normal(0, 0.3 * unit, 2)
        t = np.linspace(0, 1, 12)[:, None]
        curve = (1 - t) ** 2 * r0 + 2 * (1 - t) * t * ctrl + t**2 * end
        cv2.polylines(mask, [_pts(curve)], False, 255, int(rng.integers(1, 3)), cv2.LINE_AA, _SHIFT)
    return mask


def _microphone(rng: np.random.Generator, shape: tuple[int, int], lm: np.ndarray) -> np.ndarray:
    """A bar from below with a round head near the mouth, ``(H, W)`` ``uint8`` 0/255."""
    unit = _face_scale(lm)
    mask = np.zeros(shape, np.uint8)
    head = lm[48:68].mean(0) + rng.normal(0, 0.5 * unit, 2)
    r = rng.uniform(0.25, 0.6) * unit
    foot = head + np.array([rng.normal(0, 0.8), 1.0]) * shape[0]
    cv2.line(mask, tuple(_pts(head)), tuple(_pts(foot)), 255, max(1, int(r * 0.8)), cv2.LINE_AA, _SHIFT)
    cv2.circle(mask, tuple(_pts(head)), int(r * _ONE), 255, -1, cv2.LINE_AA, _SHIFT)
    return mask


def _shape(rng: np.random.Generator, shape: tuple[int, int], lm: np.ndarray) -> np.ndarray:
    """An ellipse, polygon or thick stroke over some part of the face, ``(H, W)`` ``uint8`` 0/255."""
    unit = _face_scale(lm)
    mask = np.zeros(shape, np.uint8)
    c = lm[rng.integers(0, 68)] + rng.normal(0, 0.5 * unit, 2)
    kind = rng.random()
    if kind < 0.35:
        axes = rng.uniform(0.15, 1.2, 2) * unit
        cv2.ellipse(mask, tuple(_pts(c)), tuple(_pts(axes)), rng.uniform(0, 180), 0, 360, 255, -1,
                    cv2.LINE_AA, _SHIFT)
    elif kind < 0.7:
        n = int(rng.integers(3, 9))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = rng.uniform(0.2, 1.2, n) * unit
        poly = c + np.stack([np.cos(ang), np.sin(ang)], 1) * rad[:, None]
        cv2.fillPoly(mask, [_pts(poly)], 255, cv2.LINE_AA, _SHIFT)
    else:
        pts = c + np.cumsum(rng.normal(0, 0.5 * unit, (int(rng.integers(2, 6)), 2)), 0)
        cv2.polylines(mask, [_pts(pts)], False, 255, max(1, int(rng.uniform(0.05, 0.4) * unit)), cv2.LINE_AA, _SHIFT)
    return mask


def _flat(colour: np.ndarray, shape: tuple[int, int], noise: float, rng: np.random.Generator) -> np.ndarray:
    """A flat ``(H, W, 3)`` ``float32`` colour with grey noise."""
    grain = rng.normal(0, noise, (*shape, 1)).astype(np.float32)
    return np.broadcast_to(colour, (*shape, 3)).astype(np.float32) + grain


def _paste(image: np.ndarray, label: np.ndarray, alpha: np.ndarray, tex: np.ndarray,
           rng: np.random.Generator, shadow: bool, occludes: bool = True) -> None:
    """Composite ``tex`` over ``image`` with ``alpha`` (``float32`` in [0, 1]), in place; clear the label."""
    if shadow:
        dx, dy = rng.normal(0, 0.04 * image.shape[0], 2)
        m = np.array([[1, 0, dx], [0, 1, abs(dy)]], np.float32)
        shade = cv2.warpAffine(alpha, m, alpha.shape[::-1])
        shade = cv2.GaussianBlur(shade, (0, 0), rng.uniform(0.5, 0.05 * image.shape[0]))
        image *= (1 - rng.uniform(0.2, 0.6) * shade)[..., None]
    image[:] = image * (1 - alpha[..., None]) + tex * alpha[..., None]
    if occludes:
        label[alpha > 0.5] = 0


def occlude(face: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator,
            sources: list[np.ndarray], others: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Paste 0 to 3 random occluders over an aligned face.

    Args:
        face: ``(S, S, 3)`` ``uint8`` RGB aligned face.
        landmarks: ``(68, 2)`` landmarks in the crop's pixels.
        rng: the random generator (seeded by the caller, so a run is reproducible).
        sources: ``uint8`` RGB images to cut textured patches from (other faces, backgrounds).
        others: ``(face, landmarks)`` pairs of other people, whose skin textures hands.

    Returns:
        ``(image, label)``: ``(S, S, 3)`` ``uint8`` RGB, and ``(S, S)`` ``float32`` in {0, 1}, 1 on
        visible face.
    """
    shape = face.shape[:2]
    size = shape[0]
    img = face.astype(np.float32)
    label = (landmark_mask(landmarks, shape, "extended") > 127).astype(np.float32)
    count = rng.choice([0, 0, 1, 1, 1, 2, 2, 3])  # a quarter without: a clear face must stay face
    for _ in range(count):
        kind = rng.random()
        blur = rng.uniform(0.3, 1.2)
        if kind < 0.3:
            alpha = _hand(rng, shape, landmarks).astype(np.float32) / 255
            tex = _skin_texture(rng, size, face, landmarks, others)
            shade = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(0.9, 1.2), size, dtype=np.float32)
            tex *= shade[:, None, None] if rng.random() < 0.5 else shade[None, :, None]
            _paste(img, label, cv2.GaussianBlur(alpha, (0, 0), blur), tex, rng, rng.random() < 0.6)
        elif kind < 0.5:
            rims, lenses = _glasses(rng, shape, landmarks)
            tint = rng.uniform(0.0, 0.9) if rng.random() < 0.5 else 0.0
            lens_col = rng.uniform(0, 120, 3)
            lens_alpha = lenses.astype(np.float32) / 255 * tint
            _paste(img, label, lens_alpha, np.broadcast_to(lens_col, (*shape, 3)).astype(np.float32), rng,
                   False, occludes=tint >= _LENS_OCCLUDES)
            rim_col = rng.uniform(0, 60, 3) if rng.random() < 0.6 else rng.uniform(0, 255, 3)
            tex = _flat(rim_col, shape, 8.0, rng)
            _paste(img, label, cv2.GaussianBlur(rims.astype(np.float32) / 255, (0, 0), 0.4), tex, rng,
                   rng.random() < 0.4)
        elif kind < 0.62:
            alpha = _hair(rng, shape, landmarks).astype(np.float32) / 255
            col = rng.uniform(10, 90, 3) if rng.random() < 0.7 else rng.uniform(120, 230, 3)
            tex = _flat(col, shape, 15.0, rng)
            _paste(img, label, alpha, tex, rng, rng.random() < 0.3)
        elif kind < 0.7:
            alpha = _microphone(rng, shape, landmarks).astype(np.float32) / 255
            tex = _texture(rng, size, sources) * rng.uniform(0.1, 0.5)
            _paste(img, label, cv2.GaussianBlur(alpha, (0, 0), blur), tex, rng, rng.random() < 0.5)
        else:
            alpha = _shape(rng, shape, landmarks).astype(np.float32) / 255
            tex = _texture(rng, size, sources)
            _paste(img, label, cv2.GaussianBlur(alpha, (0, 0), blur), tex, rng, rng.random() < 0.5)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), label
