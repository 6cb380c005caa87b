"""The network, artifact save/load and inference."""
