"""Losses: the contextual loss, its feature extractors and the two-branch RMISR objective."""

from .contextual import ContextualLoss, contextual_similarity
from .objective import TwoBranchLoss, build_contextual_loss
from .patch_features import PatchFeatures
from .vgg import VGG19_LAYER_NAMES, VGG19Features

__all__ = [
    "VGG19_LAYER_NAMES",
    "ContextualLoss",
    "PatchFeatures",
    "TwoBranchLoss",
    "VGG19Features",
    "build_contextual_loss",
    "contextual_similarity",
]
