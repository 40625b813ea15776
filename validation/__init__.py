"""Validation: the independent checker (:mod:`validation.check`) and the harness
``python -m validation.compare`` (:mod:`validation.compare`), which runs every
registered method on instance files, checks each answer against the
formulation and cross-checks the methods against each other.

The harness module is not imported here, so that ``python -m validation.compare``
runs it fresh (no double import).
"""
from .check import Check, check_assignment, check_bandwidth, check_result, p1_latency, p2_latency

__all__ = ["Check", "check_assignment", "check_bandwidth", "check_result", "p1_latency", "p2_latency"]
