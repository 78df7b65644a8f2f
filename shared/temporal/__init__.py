"""Temporal plumbing shared by the intake, the worker and scripts: names, search attributes,
the data converter and its encrypting codec, the client connection."""
