"""`stancetag.model`: the network and what runs it.

- `network`: the tagger as a Hugging Face model (`StancetagConfig`, `StanceTagger`), registered
  with `AutoConfig` / `AutoModel` when imported (torch).
- `meta`: `stancetag.json`, a model folder's description, read without torch.
- `artifact`: saving and loading a model folder (save_pretrained / from_pretrained, tokenizer, meta).
- `predictor`: the one predictor: tokenize, batch, probabilities, topic decisions, records;
  `load_predictor` picks its backend, `torch_backend` or `onnx_backend`.
- `tagger`: `Tagger`, the Python API (`from stancetag import Tagger`) over either backend.
- `export`: the ONNX export and its agreement check.
- `distributed`, `shards`: several processes of one launcher, and sharded `predict`.

Imports only the floor (`stancetag.errors`, `config`, `text`, `readers`, `writers`, `labeled`).

Importing this package (which `import stancetag` does) stays light: it imports neither torch nor
transformers, so an ONNX export tags without them. Yet `AutoModel.from_pretrained(folder)` must
know the "stancetag" model type once `stancetag` is imported: `network` registers it, and it is
imported here the moment transformers finishes importing (at once if transformers already is).
Written by hand (about 20 lines) rather than adding wrapt for its post-import hooks.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys

_NETWORK = "stancetag.model.network"


def _register() -> None:
    if importlib.util.find_spec("torch") is None:  # transformers builds no model without torch
        return
    importlib.import_module(_NETWORK)


class _AfterTransformers(importlib.abc.MetaPathFinder):
    """Finds nothing itself; when `transformers` is imported, runs `_register` after the module has executed."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "transformers":
            return None
        sys.meta_path.remove(self)  # one shot; and the lookup below must not find this finder again
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_then_register(module):
            original(module)
            del loader.exec_module  # back to the loader's own method
            _register()

        loader.exec_module = exec_then_register
        return spec


if "transformers" in sys.modules:
    _register()
elif not any(isinstance(finder, _AfterTransformers) for finder in sys.meta_path):
    sys.meta_path.insert(0, _AfterTransformers())
