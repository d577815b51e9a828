"""Compositing a new face into a frame, shared by ``convert`` and ``oneshot``.

- :mod:`masque.compose.color`: colour matchers (:class:`ColorMatcher`, registry ``COLOR_MATCHERS``).
- :mod:`masque.compose.blend`: blenders (:class:`Blender`, registry ``BLENDERS``).
- :mod:`masque.compose.paste`: warp an aligned face back into its frame, then match and blend.
- :mod:`masque.compose.files`: run a per-file job over an image, a video, or a folder of them.
- :mod:`masque.compose.warp`: piecewise affine mesh warp over a Delaunay triangulation (one-shot, animate).

Only the two registries' modules are imported here (OpenCV and NumPy); ``paste`` and ``files``
are imported where they are used.

>>> from masque.compose import BLENDERS, COLOR_MATCHERS
>>> BLENDERS.names()
['gaussian', 'none', 'poisson', 'seamless']
"""

from masque.compose.blend import BLENDERS, Blender, blend, feather_alpha, register_blender
from masque.compose.color import COLOR_MATCHERS, ColorMatcher, match_color, register_color_matcher

__all__ = [
    "BLENDERS",
    "COLOR_MATCHERS",
    "Blender",
    "ColorMatcher",
    "blend",
    "feather_alpha",
    "match_color",
    "register_blender",
    "register_color_matcher",
]
