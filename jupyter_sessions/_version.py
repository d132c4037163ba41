"""The package version, in a module of its own so that every part can read it without
importing the package root (which knows every part)."""

__version__ = "0.1.0"
