"""`stancetag.model`: the network and what runs it.

- `network`: the encoder with its topic and tone heads (torch).
- `meta`: `stancetag.json`, a model folder's description, read without torch.
- `artifact`: saving and loading a model folder (safetensors, tokenizer, encoder config).
- `predictor`: the one predictor: tokenize, batch, probabilities, topic decisions, records;
  `load_predictor` picks its backend, `torch_backend` or `onnx_backend`.
- `tagger`: `Tagger`, the Python API (`from stancetag import Tagger`) over either backend.
- `export`: the ONNX export and its agreement check.
- `distributed`, `shards`: several processes of one launcher, and sharded `predict`.

Imports only the floor (`stancetag.errors`, `config`, `text`, `readers`, `writers`, `labeled`).
"""
