"""The network compiler: read the prior, map nodes to data columns, clean it, select inputs and
outputs, and prune it with a MILP (`prune/`)."""

from pknet.compiler.network.compile_network import CompiledNetwork, compile_network
from pknet.compiler.network.network import Network

__all__ = ["CompiledNetwork", "Network", "compile_network"]
