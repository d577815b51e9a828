"""A face set on disk: ``faces/`` (aligned PNGs) and ``faceset.sqlite`` (the index).

Tables: ``meta`` (schema version, crop size, centering), ``sources`` (one row per input file),
``frames`` (one row per frame done, so a resumed extract skips it), ``faces`` (one row per face:
box, landmarks in source pixels, alignment matrix, embedding, pose, blur, PNG path), ``pruned``
(faces set aside by ``masque faceset prune``, by batch, until ``faceset restore`` puts them
back; their PNGs wait in ``pruned/<batch>/``). A frame's faces and its ``frames`` row are
committed in one transaction, after the PNGs are on disk, so a kill at any moment loses at most
the frame in flight and a rerun never duplicates a face.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from masque.errors import FaceSetError, InputNotFoundError, OutOfSpaceError

SCHEMA_VERSION = 1
DB_NAME = "faceset.sqlite"
FACES_DIR = "faces"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    width INTEGER, height INTEGER, fps REAL, frames INTEGER, done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS frames (
    source_id INTEGER NOT NULL REFERENCES sources(id), frame INTEGER NOT NULL, n_faces INTEGER NOT NULL,
    PRIMARY KEY (source_id, frame));
CREATE TABLE IF NOT EXISTS faces (
    id INTEGER PRIMARY KEY, source_id INTEGER NOT NULL REFERENCES sources(id), frame INTEGER NOT NULL,
    face_index INTEGER NOT NULL, bbox TEXT NOT NULL, landmarks BLOB NOT NULL, matrix BLOB NOT NULL,
    embedding BLOB, yaw REAL, pitch REAL, roll REAL, blur REAL, score REAL, image TEXT NOT NULL,
    UNIQUE (source_id, frame, face_index));
CREATE TABLE IF NOT EXISTS pruned (
    id INTEGER PRIMARY KEY, batch TEXT NOT NULL, face_id INTEGER NOT NULL,
    source_id INTEGER NOT NULL REFERENCES sources(id), frame INTEGER NOT NULL, face_index INTEGER NOT NULL,
    bbox TEXT NOT NULL, landmarks BLOB NOT NULL,
    matrix BLOB NOT NULL, embedding BLOB, yaw REAL, pitch REAL, roll REAL, blur REAL, score REAL,
    image TEXT NOT NULL);
"""
#: the columns ``faces`` and ``pruned`` share, in order (``pruned`` keeps the face's id as ``face_id``)
_FACE_FIELDS = "source_id, frame, face_index, bbox, landmarks, matrix, embedding, yaw, pitch, roll, blur, score, image"
#: where set-aside PNGs go: ``pruned/<batch>/<name>.png``
PRUNED_DIR = "pruned"


@dataclass(frozen=True)
class FaceRecord:
    """One row of ``faces``.

    Attributes:
        landmarks: ``(68, 2)`` ``float32`` in source pixels.
        matrix: ``(2, 3)`` ``float64`` source-to-crop alignment matrix.
        embedding: ``(128,)`` ``float32`` or ``None``.
        image: path of the aligned PNG, relative to the face set folder.
    """

    source: str
    frame: int
    face_index: int
    bbox: tuple[float, float, float, float]
    landmarks: np.ndarray
    matrix: np.ndarray
    embedding: np.ndarray | None
    yaw: float
    pitch: float
    roll: float
    blur: float
    score: float
    image: str
    id: int = 0

    @property
    def aligned_landmarks(self) -> np.ndarray:
        """``(68, 2)`` ``float32`` landmarks in the aligned crop's pixels."""
        return (self.landmarks.astype(np.float64) @ self.matrix[:, :2].T + self.matrix[:, 2]).astype(np.float32)


class FaceSet:
    """Open (or create, with ``create=True``) the face set in ``root``.

    Raises:
        FaceSetError: the folder is not a face set, or one of another schema or crop size.
    """

    def __init__(self, root: str | Path, *, create: bool = False, size: int = 256, centering: str = "face") -> None:
        self.root = Path(root)
        db = self.root / DB_NAME
        if not db.is_file() and not create:
            if not self.root.exists():
                raise InputNotFoundError(f"face set not found: {self.root}")
            raise FaceSetError(f"{self.root} is not a face set (no {DB_NAME}); create one with `masque extract`")
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(db, timeout=30)
        try:
            if not create and not self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
                raise FaceSetError(f"{db} is empty or not a masque face set index; restore it or extract the face "
                                   "set again")  # checked before anything is written into the file
            self.conn.execute("PRAGMA journal_mode=WAL")  # readers never block the extract writer
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(_SCHEMA)
            self._check_meta(create, size, centering)
        except sqlite3.DatabaseError as exc:  # not SQLite, truncated, or locked by another program
            self.conn.close()
            raise FaceSetError(f"cannot read the face set index {db} ({exc}): it is damaged, not a masque face "
                               "set, or locked by another program; restore it or extract the face set again") from None
        except FaceSetError:
            self.conn.close()
            raise
        (self.root / FACES_DIR).mkdir(exist_ok=True)

    def _check_meta(self, create: bool, size: int, centering: str) -> None:
        meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            with self.conn:
                self.conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("schema_version", str(SCHEMA_VERSION)), ("size", str(size)), ("centering", centering)])
            meta = {"schema_version": str(SCHEMA_VERSION), "size": str(size), "centering": centering}
        if int(meta["schema_version"]) != SCHEMA_VERSION:
            raise FaceSetError(f"{self.root} has face set schema {meta['schema_version']}, this masque reads "
                               f"{SCHEMA_VERSION}; extract it again")
        self.size, self.centering = int(meta["size"]), meta["centering"]
        if create and (self.size, self.centering) != (size, centering):
            raise FaceSetError(f"{self.root} holds {self.size} px '{self.centering}' faces, not {size} px "
                               f"'{centering}'; use another output folder or the same --size")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> FaceSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- sources and frames -------------------------------------------------------------
    def add_source(self, path: str, kind: str, width: int, height: int, fps: float, frames: int) -> int:
        """The id of ``path``'s source row, inserted if new."""
        with self.conn:
            self.conn.execute("INSERT OR IGNORE INTO sources (path, kind, width, height, fps, frames) "
                              "VALUES (?, ?, ?, ?, ?, ?)", (path, kind, width, height, fps, frames))
        return int(self.conn.execute("SELECT id FROM sources WHERE path = ?", (path,)).fetchone()[0])

    def source_done(self, path: str) -> bool:
        row = self.conn.execute("SELECT done FROM sources WHERE path = ?", (path,)).fetchone()
        return bool(row and row[0])

    def mark_source_done(self, source_id: int) -> None:
        with self.conn:
            self.conn.execute("UPDATE sources SET done = 1 WHERE id = ?", (source_id,))

    def frames_done(self, source_id: int) -> set[int]:
        return {r[0] for r in self.conn.execute("SELECT frame FROM frames WHERE source_id = ?", (source_id,))}

    def commit_frame(self, source_id: int, frame: int, faces: list[FaceRecord]) -> None:
        """Record a finished frame and its faces atomically (their PNGs must already exist).

        Raises:
            OutOfSpaceError: the disk is full; the frame is not recorded, earlier ones are kept.
        """
        try:
            with self.conn:
                self.conn.execute("DELETE FROM faces WHERE source_id = ? AND frame = ?", (source_id, frame))
                self.conn.executemany(
                    "INSERT INTO faces (source_id, frame, face_index, bbox, landmarks, matrix, embedding, yaw, "
                    "pitch, roll, blur, score, image) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [_face_row(source_id, f) for f in faces])
                self.conn.execute("INSERT OR REPLACE INTO frames VALUES (?, ?, ?)", (source_id, frame, len(faces)))
        except sqlite3.OperationalError as exc:
            if "full" in str(exc):
                raise OutOfSpaceError(f"disk full while indexing {self.root}; free space and run the same "
                                      "command again to resume") from exc
            raise

    # ---- reading -------------------------------------------------------------------------
    def faces(self, order_by: str = "faces.id") -> Iterator[FaceRecord]:
        """Every face, in ``order_by`` order (a column of ``faces``)."""
        sql = ("SELECT faces.id, sources.path, frame, face_index, bbox, landmarks, matrix, embedding, yaw, pitch, "
               f"roll, blur, score, image FROM faces JOIN sources ON sources.id = faces.source_id ORDER BY {order_by}")
        for row in self.conn.execute(sql):
            yield _record(row)

    def __len__(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM faces").fetchone()[0])

    def image_path(self, record: FaceRecord) -> Path:
        return self.root / record.image

    def delete_faces(self, ids: list[int]) -> int:
        """Remove faces (rows and PNGs). Returns how many were removed."""
        removed = 0
        for fid in ids:
            row = self.conn.execute("SELECT image FROM faces WHERE id = ?", (fid,)).fetchone()
            if row is None:
                continue
            with self.conn:
                self.conn.execute("DELETE FROM faces WHERE id = ?", (fid,))
            (self.root / row[0]).unlink(missing_ok=True)
            removed += 1
        return removed

    def set_aside(self, ids: list[int], batch: str) -> int:
        """Move faces out of the set into ``pruned/<batch>/``, recoverably (:meth:`restore`).

        Each face's rows move in one transaction before its PNG moves, so a kill in between
        leaves the PNG where :meth:`restore` still finds it. Returns how many were set aside.
        """
        moved = 0
        folder = self.root / PRUNED_DIR / batch
        folder.mkdir(parents=True, exist_ok=True)
        for fid in ids:
            row = self.conn.execute("SELECT image FROM faces WHERE id = ?", (fid,)).fetchone()
            if row is None:
                continue
            with self.conn:
                self.conn.execute(f"INSERT INTO pruned (batch, face_id, {_FACE_FIELDS}) SELECT ?, id, "
                                  f"{_FACE_FIELDS} FROM faces WHERE id = ?", (batch, fid))
                self.conn.execute("DELETE FROM faces WHERE id = ?", (fid,))
            png = self.root / row[0]
            if png.is_file():
                os.replace(png, folder / png.name)
            moved += 1
        return moved

    def pruned_batches(self) -> list[tuple[str, int]]:
        """``(batch, faces)`` of every batch set aside and not restored, oldest first."""
        return [(b, int(n)) for b, n in self.conn.execute(
            "SELECT batch, COUNT(*) FROM pruned GROUP BY batch ORDER BY MIN(id)")]

    def restore(self, batch: str) -> tuple[int, int]:
        """Put the faces of ``batch`` back into the set; returns ``(restored, skipped)``.

        A face is skipped (and stays set aside) when the set holds that face again (the same
        source, frame and face index, from a later extract) or its PNG is gone from both places.
        """
        restored = skipped = 0
        rows = self.conn.execute("SELECT id, face_id, image FROM pruned WHERE batch = ? ORDER BY id",
                                 (batch,)).fetchall()
        for pid, face_id, image in rows:
            home, waiting = self.root / image, self.root / PRUNED_DIR / batch / Path(image).name
            if not home.is_file() and waiting.is_file():
                os.replace(waiting, home)  # the PNG first: a kill before the rows move loses nothing
            if not home.is_file():
                skipped += 1
                continue
            # its old id when still free, so the set's order (and training's held-out faces) come back
            taken = self.conn.execute("SELECT 1 FROM faces WHERE id = ?", (face_id,)).fetchone()
            try:
                with self.conn:
                    self.conn.execute(f"INSERT INTO faces (id, {_FACE_FIELDS}) SELECT ?, {_FACE_FIELDS} "
                                      "FROM pruned WHERE id = ?", (None if taken else face_id, pid))
                    self.conn.execute("DELETE FROM pruned WHERE id = ?", (pid,))
                restored += 1
            except sqlite3.IntegrityError:  # extracted again since: keep the newer one
                skipped += 1
        _remove_if_empty(self.root / PRUNED_DIR / batch)
        return restored, skipped

    def stats(self) -> dict[str, object]:
        """Counts and ranges for ``masque faceset info``."""
        q = self.conn.execute
        n_src, n_done = q("SELECT COUNT(*), COALESCE(SUM(done), 0) FROM sources").fetchone()
        n_frames, n_empty = q("SELECT COUNT(*), COALESCE(SUM(n_faces = 0), 0) FROM frames").fetchone()
        blur = q("SELECT MIN(blur), AVG(blur), MAX(blur), MIN(yaw), MAX(yaw) FROM faces").fetchone()
        return {"path": str(self.root), "size": self.size, "centering": self.centering, "sources": n_src,
                "sources_done": n_done, "frames": n_frames, "frames_without_face": n_empty, "faces": len(self),
                "blur_min_mean_max": blur[:3], "yaw_min_max": blur[3:]}


def _face_row(source_id: int, f: FaceRecord) -> tuple[object, ...]:
    emb = None if f.embedding is None else np.asarray(f.embedding, np.float32).tobytes()
    return (source_id, f.frame, f.face_index, json.dumps([round(v, 2) for v in f.bbox]),
            np.asarray(f.landmarks, np.float32).tobytes(), np.asarray(f.matrix, np.float64).tobytes(), emb,
            f.yaw, f.pitch, f.roll, f.blur, f.score, f.image)


def _record(row: tuple[Any, ...]) -> FaceRecord:
    fid, src, frame, idx, bbox, lm, mat, emb, yaw, pitch, roll, blur, score, image = row
    return FaceRecord(src, frame, idx, tuple(json.loads(bbox)), np.frombuffer(lm, np.float32).reshape(68, 2),
                      np.frombuffer(mat, np.float64).reshape(2, 3),
                      None if emb is None else np.frombuffer(emb, np.float32), yaw, pitch, roll, blur, score,
                      image, fid)


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty (skipped faces), or already gone
        folder.rmdir()
        folder.parent.rmdir()
