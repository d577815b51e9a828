"""Convert-stage building blocks: colour matching and blending of a new face into a frame."""

from masque.convert.blend import BLENDERS, blend, feather_alpha
from masque.convert.color import COLOR_MATCHERS, match_color

__all__ = ["BLENDERS", "COLOR_MATCHERS", "blend", "feather_alpha", "match_color"]
