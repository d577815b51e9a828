"""Swap models: a shared encoder and one decoder per identity, in a registry; their folders
(:mod:`masque.models.io`) and model cards (:mod:`masque.models.card`).

>>> from masque.models import MODELS
>>> MODELS.names()
['hires', 'lightweight', 'original']
>>> MODELS.create("original").input_size
64
"""

from masque.models.architectures import ARCHS, MODELS
from masque.models.card import CARD_VERSION, CropSpec, ModelCard
from masque.models.io import load_model, read_card
from masque.models.swap import SIDES, Arch, Side, SwapModel, SwapNetwork

__all__ = ["ARCHS", "CARD_VERSION", "MODELS", "SIDES", "Arch", "CropSpec", "ModelCard", "Side", "SwapModel",
           "SwapNetwork", "load_model", "read_card"]
