"""Validation: the independent checker ``python -m validation.check`` (:mod:`validation.check`),
which verifies solutions and certificates from the instance data alone, and the harness
``python -m validation.compare`` (:mod:`validation.compare`), which runs every
registered method on instance files, checks each answer against the
formulation and cross-checks the methods against each other.

No submodule is imported here, so that ``python -m validation.check`` and
``python -m validation.compare`` run them fresh (no double import).
"""
