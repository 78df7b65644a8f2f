"""Moved to tests/builders.py; this name stays for the workflow tests and bench/webhooks.py,
which import it, until they import from there."""

from tests.builders import ref

__all__ = ["ref"]
