"""stancetag: tag news sentences on U.S.-China relations with topics and a tone.

The Python API is `stancetag.Tagger` (imported on first use, so `import stancetag` stays light):

    from stancetag import Tagger
    tagger = Tagger.load("artifacts/default")
    tagger.tag_articles({"a1": "Tariffs rose on Monday. Talks resume in May."})

Layers, each importing only those above it in this list:
- the floor, modules of this package: `errors`, `config`, `text` (sentence splitting), `readers`,
  `writers` (formats and atomic publishing), `labeled` (labeled data: read, validate, split);
- `stancetag.model`: the network, model folders, the predictor (torch and ONNX backends), `Tagger`;
- `stancetag.evaluation`: metrics, thresholds, calibration, bootstrap, baselines, reports;
- `stancetag.training`: the training loop, checkpoints, cross-validation;
- `stancetag.cli`: the command line, a leaf that nothing imports.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["Tagger", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Tagger":
        from stancetag.model.tagger import Tagger

        return Tagger
    raise AttributeError(f"module 'stancetag' has no attribute {name!r}")


# Light (no torch, no transformers): arranges that the "stancetag" model type is registered with
# transformers' AutoConfig / AutoModel as soon as transformers is imported (see stancetag.model).
import stancetag.model  # noqa: E402, F401
