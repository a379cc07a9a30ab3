"""Super-resolution networks: RMISR-BL, RMISR-VP and the paper's comparison networks."""

from .edsr import EDSRBaseline
from .espcn import ESPCN
from .fsrcnn import FSRCNN
from .imdn import IMDN
from .rmisr import RMISR
from .rmisr_vp import RMISRVP
from .srcnn import SRCNN
from .srresnet import SRResNet
from .vdsr import VDSR

__all__ = ["ESPCN", "FSRCNN", "IMDN", "RMISR", "RMISRVP", "SRCNN", "VDSR", "EDSRBaseline", "SRResNet"]
