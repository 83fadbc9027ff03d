"""Stacks compose constructs and wire them together; each one is a lifecycle."""

from stacks.baseline import BaselineStack
from stacks.data import DataStack
from stacks.keys import KeysStack
from stacks.network import NetworkStack
from stacks.observability import ObservabilityStack
from stacks.service import ServiceStack

__all__ = ["BaselineStack", "DataStack", "KeysStack", "NetworkStack", "ObservabilityStack", "ServiceStack"]
