"""billdb: the Bill-Inquiry database plan, provisioned, proven, drilled and operated."""

__version__ = "0.1.0"
