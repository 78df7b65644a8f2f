"""Temporal plumbing shared by the intake, the worker and scripts: names, search attributes,
the client connection."""
