"""The registered architectures. Each factory takes no arguments and returns a fresh :class:`SwapModel`."""

from __future__ import annotations

from masque.models.swap import Arch, SwapModel
from masque.registry import Registry

MODELS: Registry[SwapModel] = Registry("model")

#: the classic deepfakes design, layer for layer
ORIGINAL = Arch(input_size=64, encoder=(128, 256, 512, 1024), dense=1024, bottleneck=1024, upscale=512,
                decoder=(256, 128, 64))
#: the same shape with half the filters everywhere: about 4.6x fewer FLOPs, for CPU training in minutes
LIGHTWEIGHT = Arch(input_size=64, encoder=(64, 128, 256, 512), dense=512, bottleneck=512, upscale=256,
                   decoder=(128, 64, 32))
#: 128 px, one more conv down, one more upscale, a residual block after each decoder upscale
HIRES = Arch(input_size=128, encoder=(128, 256, 512, 768, 1024), dense=1024, bottleneck=1024, upscale=512,
             decoder=(384, 192, 96, 48), res_blocks=1)

ARCHS: dict[str, Arch] = {"original": ORIGINAL, "lightweight": LIGHTWEIGHT, "hires": HIRES}


@MODELS.register("original")
def original() -> SwapModel:
    """64 px; encoder conv 128-256-512-1024, Dense(1024), Dense(4*4*1024), upscale(512); decoder
    upscale 256-128-64 then 5x5 convs to RGB (sigmoid) and mask (sigmoid)."""
    return SwapModel("original", ORIGINAL)


@MODELS.register("lightweight")
def lightweight() -> SwapModel:
    """64 px, the original's shape with half the filters."""
    return SwapModel("lightweight", LIGHTWEIGHT)


@MODELS.register("hires")
def hires() -> SwapModel:
    """128 px with a residual block after each decoder upscale."""
    return SwapModel("hires", HIRES)
