"""Dockyard: a container engine that builds, ships and runs containers."""

__version__ = "0.1.0"
