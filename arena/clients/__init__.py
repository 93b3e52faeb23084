"""Model clients: the protocol, the registry, and wrappers."""

from arena.clients.base import ModelClient, RecordingClient, prepare_messages
from arena.clients.registry import check_spec, create_client

__all__ = ["ModelClient", "RecordingClient", "check_spec", "create_client", "prepare_messages"]
