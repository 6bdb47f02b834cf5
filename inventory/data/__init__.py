"""Reference tables shipped with the inventory package (read with importlib.resources)."""
