"""DEFT matching instances: the validated :class:`Instance` type, file I/O, the
generator (``python -m instances.generate``) and the shipped corpus (``*.json``
files in the sub-folders of this package)."""
from .core import FORMAT, Instance, InstanceError, load_instance, save_instance

__all__ = ["FORMAT", "Instance", "InstanceError", "load_instance", "save_instance"]
