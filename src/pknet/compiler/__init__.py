"""Compiler: a validated Spec plus files -> the network (and, later, the model) to run."""

from pknet.compiler.network.compile_network import CompiledNetwork, compile_network
from pknet.compiler.network.network import Network

__all__ = ["CompiledNetwork", "Network", "compile_network"]
