"""Data loading and validation, the training loop and evaluation."""
