"""The package version, in one place.

Owns ``__version__`` only, so that every layer (the CLI's ``--version``, the clients'
User-Agent) can read it without importing the package's top level. Must never import
anything.
"""

__version__ = "0.2.0"
