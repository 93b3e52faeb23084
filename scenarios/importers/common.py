"""What every importer shares: the refusal of one record, with its reason."""

from __future__ import annotations


class Refused(Exception):
    """A record that cannot be mapped; the message is the reason."""
