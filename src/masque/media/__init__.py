"""Reading and writing images and videos (RGB uint8 arrays; video through PyAV)."""

from masque.media.image import IMAGE_EXTENSIONS, is_image_path, read_image, write_image
from masque.media.video import VideoInfo, VideoReader, VideoWriter, is_video_path, probe_video

__all__ = [
    "IMAGE_EXTENSIONS",
    "VideoInfo",
    "VideoReader",
    "VideoWriter",
    "is_image_path",
    "is_video_path",
    "probe_video",
    "read_image",
    "write_image",
]
