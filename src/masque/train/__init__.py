"""Training: a shared encoder and one decoder per identity, on two face sets.

>>> from masque.train import TrainConfig
>>> TrainConfig(model="lightweight").lr
5e-05
"""

from masque.train.checkpoint import save_checkpoint
from masque.train.trainer import StepInfo, TrainConfig, Trainer, TrainSummary

__all__ = ["StepInfo", "TrainConfig", "TrainSummary", "Trainer", "save_checkpoint"]
