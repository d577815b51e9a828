"""Swap models: a shared encoder and one decoder per identity, in a registry.

>>> from masque.models import MODELS
>>> MODELS.names()
['hires', 'lightweight', 'original']
>>> MODELS.create("original").input_size
64
"""

from masque.models.architectures import ARCHS, MODELS
from masque.models.swap import SIDES, Arch, Side, SwapModel

__all__ = ["ARCHS", "MODELS", "SIDES", "Arch", "Side", "SwapModel"]
