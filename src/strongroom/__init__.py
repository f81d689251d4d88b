"""Strongroom: a self-hosted team password manager with secure mobile access."""

__version__ = "0.1.0"
