"""Face sets: aligned face PNGs plus an SQLite index, written resumably by extract."""

from masque.faceset.store import DB_NAME, FACES_DIR, FaceRecord, FaceSet

__all__ = ["DB_NAME", "FACES_DIR", "FaceRecord", "FaceSet"]
