"""DEFT matching instances: the validated :class:`Instance` type, file I/O (formats
``deft-instance/1``, the paper's model, and ``deft-instance/2``, the problem family),
the generator (``python -m instances.generate``) and the shipped corpus (``*.json``
files in the sub-folders of this package)."""
from .core import FORMAT, FORMAT_V2, FORMATS, Instance, InstanceError, load_instance, save_instance

__all__ = ["FORMAT", "FORMAT_V2", "FORMATS", "Instance", "InstanceError", "load_instance", "save_instance"]
