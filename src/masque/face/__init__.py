"""Face analysis: detection, 68 landmarks, alignment, masks, pose, identity, quality."""

from masque.face import detect_mediapipe as _detect_mediapipe  # noqa: F401  registers "mediapipe" (imports it lazily)
from masque.face.align import AlignedFace, align_face, alignment_matrix, paste_matrix, transform_points
from masque.face.analyze import AnalyzerConfig, FaceAnalyzer
from masque.face.detect import DETECTORS, Detection
from masque.face.mask import landmark_mask
from masque.face.pose import head_pose
from masque.face.quality import blur_score
from masque.face.target import TargetSelector, reference_embedding, reference_embeddings
from masque.face.track import FaceTracker, TrackedFace, TrackerConfig, nearest_face
from masque.face.types import SAME_PERSON_THRESHOLD, Face, identity_distance

__all__ = [
    "DETECTORS",
    "SAME_PERSON_THRESHOLD",
    "AlignedFace",
    "AnalyzerConfig",
    "Detection",
    "Face",
    "FaceAnalyzer",
    "FaceTracker",
    "TargetSelector",
    "TrackedFace",
    "TrackerConfig",
    "align_face",
    "alignment_matrix",
    "blur_score",
    "head_pose",
    "identity_distance",
    "landmark_mask",
    "nearest_face",
    "paste_matrix",
    "reference_embedding",
    "reference_embeddings",
    "transform_points",
]
