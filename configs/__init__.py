"""The configs shipped with stancetag (`default.yaml`, `mpnet.yaml`): package data, read with importlib.resources."""
