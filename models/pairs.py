"""The pairs (device k, block m) a model gives a variable, indexed both ways.

Every builder of :mod:`models` declares ``x[k, m]`` only on the pairs that can
matter (memory fits, and for the scaled models the pair can finish in time) and
writes its rows over them: C1 over the devices of each block, C2 and C3 over
the blocks of each device.

>>> import numpy as np
>>> pairs, by_device, by_block = index_pairs(np.array([0, 0, 2]), np.array([0, 1, 1]), K=3, M=2)
>>> pairs, by_device, by_block
([(0, 0), (0, 1), (2, 1)], [[0, 1], [], [1]], [[0], [0, 2]])
"""
from __future__ import annotations

import numpy as np


def index_pairs(devices: np.ndarray, blocks: np.ndarray, K: int, M: int
                ) -> tuple[list[tuple[int, int]], list[list[int]], list[list[int]]]:
    """``(pairs, by_device, by_block)`` of the pairs ``(devices[i], blocks[i])``.

    ``by_device[k]`` lists the blocks of device k, ``by_block[m]`` the devices of
    block m, both in the order of the pairs.  O(number of pairs + K + M).
    """
    pairs = list(zip(np.asarray(devices).tolist(), np.asarray(blocks).tolist()))
    by_device: list[list[int]] = [[] for _ in range(K)]
    by_block: list[list[int]] = [[] for _ in range(M)]
    for k, m in pairs:
        by_device[k].append(m)
        by_block[m].append(k)
    return pairs, by_device, by_block


def first_empty(by_block: list[list[int]]) -> int | None:
    """The first block with no pair (a model without a way to place it), or None.

    >>> first_empty([[0], [], []]), first_empty([[0]])
    (1, None)
    """
    return next((m for m, devices in enumerate(by_block) if not devices), None)
