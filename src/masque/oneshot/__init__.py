"""One-shot face swap without training: landmarks, Delaunay warp, colour match, feathered blend."""

from masque.compose.warp import mesh_points, triangulate, warp_mesh
from masque.oneshot.swap import OneShotSwapper, SwapConfig, swap_image

__all__ = ["OneShotSwapper", "SwapConfig", "mesh_points", "swap_image", "triangulate", "warp_mesh"]
