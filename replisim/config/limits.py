"""The integer widths the engine stores counts in, so that the configuration can be held to them.

The configuration layer sits below the engine and cannot import it; the engine's arrays are declared with these
dtypes where they hold a key's value, and ``tests/test_config.py`` checks that they still do, so a bound here is
the engine's own and never a second constant that could drift from it.
"""

import numpy as np

NODE_INDEX = np.int32  # a replica's node, the CSR column indices: network.nodes
NODE_COUNT = np.int32  # a node's slots, occupancy and tallies: per-node capacity
LINEAGE = np.int32  # a replica's lineage (the initial replica it descends from): replica.initial


def most(dtype) -> int:
    """The largest value ``dtype`` holds."""
    return int(np.iinfo(dtype).max)
