"""The configs shipped with stancetag (`default.yaml`, `fast.yaml`, `mpnet.yaml`): package data, read with
importlib.resources."""
