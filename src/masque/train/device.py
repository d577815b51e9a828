"""Device and precision helpers; they live in :mod:`masque.models.device` (inference needs them
too, and convert may not import the training stage). Re-exported here for the trainer."""

from masque.models.device import amp_dtype, cpu_flags, cpu_has_bf16, describe, pick_device

__all__ = ["amp_dtype", "cpu_flags", "cpu_has_bf16", "describe", "pick_device"]
