"""The desktop viewer (``rmisr view``): select a region, compare bicubic and a model, check a model."""

from .session import MODES, Comparison, ViewerSession
from .window import SRViewer, display_range

__all__ = ["MODES", "Comparison", "SRViewer", "ViewerSession", "display_range"]
