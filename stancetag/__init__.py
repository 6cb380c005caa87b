"""stancetag: tag news sentences on U.S.-China relations with topics and a tone.

Layers, each importing only those above it in this list:
- the floor, modules of this package: `errors`, `config`, `text` (sentence splitting), `readers`,
  `writers` (formats and atomic publishing), `labeled` (labeled data: read, validate, split);
- `stancetag.model`: the network, model folders, the predictor (torch and ONNX backends);
- `stancetag.evaluation`: metrics, thresholds, calibration, bootstrap, baselines, reports;
- `stancetag.training`: the training loop, checkpoints, cross-validation;
- `stancetag.cli`: the command line, a leaf that nothing imports.
"""

__version__ = "0.1.0"
