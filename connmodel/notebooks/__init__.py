"""The notebooks shipped with connmodel (package data, found with importlib.resources)."""
