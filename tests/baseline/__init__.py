"""Fixed-seed baseline of the engine: summary numbers of a few small configurations (see regenerate.py)."""
