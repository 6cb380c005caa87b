"""`stancetag export --onnx`: the tagger (encoder and both heads) as one ONNX graph for ONNX Runtime.

The graph takes `input_ids` and `attention_mask` (int64, dynamic batch and sequence axes) and
returns `topic_logits` and `tone_logits`; tokenization, thresholds and the tone temperature stay
outside it, read from the copied `stancetag.json` and tokenizer as for a torch model.

Every export is checked before it is published: the exported model and fp32 torch tag the same
sentences (the model's test split by default) and must agree on at least `AGREEMENT_FLOOR` of the
labels (each topic decision and each tone count as one label). For fp32 this catches a bad trace;
for int8 (dynamic quantization of the weights, per output channel) it is the condition under which
int8 is offered at all. Below it, nothing is written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stancetag.errors import UserError
from stancetag.model.artifact import CONFIG_FILE, load_artifact
from stancetag.model.meta import META_FILE, ArtifactMeta
from stancetag.model.onnx_backend import (
    EXPORT_FILE,
    EXPORT_FORMAT_VERSION,
    INPUT_NAMES,
    ONNX_FILE,
    OUTPUT_NAMES,
    QUANTIZATIONS,
    OnnxPredictor,
    is_onnx_export,
    open_session,
)
from stancetag.paths import OutputKind, check_output
from stancetag.readers import check_readable_file, iter_rows
from stancetag.writers import publish_directory, staging_directory

log = logging.getLogger(__name__)

AGREEMENT_FLOOR = 0.99
OPSET = 17
MAX_CHECK_SENTENCES = 2000  # enough for a tight agreement figure; bounds the export time


@dataclass(frozen=True)
class ExportResult:
    output: Path
    quantization: str | None
    agreement: float  # share of labels equal to fp32 torch's
    sentences: int
    check_data: Path
    max_difference: float  # largest difference of any probability from fp32 torch's
    megabytes: float


def default_output(model_dir: Path, quantize: str | None) -> Path:
    """Beside the model directory: DIR-onnx, or DIR-onnx-int8."""
    model_dir = model_dir.resolve()
    return model_dir.with_name(f"{model_dir.name}-onnx" + (f"-{quantize}" if quantize else ""))


def check_sentences(meta: ArtifactMeta, check_data: Path | None) -> tuple[Path, list[str]]:
    """Sentences to measure agreement on: --check-data, else the model's test, dev or training file."""
    if check_data is not None:
        check_readable_file(check_data, "check data")
        path = check_data
    else:
        config = meta.config.data
        candidates = [config.test, meta.data.get("dev", {}).get("path"), config.dev]
        candidates += [meta.data.get("train", {}).get("path"), config.train]
        found = [Path(c) for c in candidates if c and Path(c).is_file()]
        if not found:
            raise UserError(
                "export: none of the model's data files (data.test, dev, train) is here to measure label agreement "
                "on; give --check-data FILE (JSONL/CSV with a `text` column)"
            )
        path = found[0]
    texts = list(dict.fromkeys(str(row["text"]) for _, row in iter_rows(path, ("text",)) if row.get("text")))
    if not texts:
        raise UserError(f"{path}: no row has a `text` to measure label agreement on; give another --check-data")
    if len(texts) > MAX_CHECK_SENTENCES:
        log.info("measuring agreement on the first %d of %d sentences of %s", MAX_CHECK_SENTENCES, len(texts), path)
    return path, texts[:MAX_CHECK_SENTENCES]


@contextlib.contextmanager
def _quiet_onnx_tools():
    """The legacy exporter warns that it is deprecated and that traced branches become constants (the
    agreement check is what guards against a wrong trace); the quantizer logs advice on the root
    logger. Neither is for the user."""

    def drop(record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname

    root = logging.getLogger()
    root.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.removeFilter(drop)


def _export_graph(tagger, tokenizer, path: Path) -> None:
    import torch

    # The TorchScript exporter (`dynamo=False`) needs no onnxscript and writes one self-contained
    # file (README, "Performance", compares it with the dynamo exporter). The example batch is
    # padded, so the traced attention masking is the general one.
    example = tokenizer(["A short one.", "A somewhat longer example sentence to trace."], padding=True)
    args = tuple(torch.tensor(example[name], dtype=torch.long) for name in INPUT_NAMES)
    dynamic = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
    dynamic.update({name: {0: "batch"} for name in OUTPUT_NAMES})
    with torch.no_grad():
        torch.onnx.export(
            tagger.cpu().float().eval(),
            args,
            str(path),
            dynamo=False,
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=dynamic,
            opset_version=OPSET,
        )


def _quantize(source: Path, target: Path, quantize: str) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    assert quantize == "int8"
    # Per-channel weight scales: per-tensor int8 lost about 2.5% label agreement on MiniLM, per-channel
    # under 1%. Only MatMuls with constant weights are quantized (the default for dynamic quantization).
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)


ONNX_EXPORT = OutputKind("ONNX export", folder=True, is_own=is_onnx_export)


def export_onnx(
    model_dir: Path,
    output: Path | None = None,
    *,
    quantize: str | None = None,
    check_data: Path | None = None,
    force: bool = False,
) -> ExportResult:
    """Export the torch model in `model_dir` to a self-describing ONNX folder, written atomically.

    `output` must be new, empty or an earlier export (`force` replaces anything else, after success).
    """
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise UserError(f"--quantize {quantize!r}: choose {', '.join(QUANTIZATIONS)} (or leave it out for fp32)")
    output = output or default_output(model_dir, quantize)
    check_output(output, ONNX_EXPORT, inputs=[check_data] if check_data else [], keep=[model_dir], force=force)
    if is_onnx_export(model_dir):
        raise UserError(f"--model {model_dir}: already an ONNX export; give the torch model directory it came from")
    tagger, tokenizer, meta = load_artifact(model_dir)
    data_path, texts = check_sentences(meta, check_data)

    from stancetag.model.torch_backend import TorchPredictor

    reference = TorchPredictor(tagger, tokenizer, meta, precision="fp32", device="cpu", batch_size=32)
    expected = reference.predict_proba(texts, progress_label="export: fp32 torch")
    staging = staging_directory(output)
    try:
        with _quiet_onnx_tools():
            _export_graph(tagger, tokenizer, staging / ONNX_FILE)
            if quantize:
                _quantize(staging / ONNX_FILE, staging / f"{quantize}.onnx", quantize)
                (staging / f"{quantize}.onnx").replace(staging / ONNX_FILE)
        info = {"format_version": EXPORT_FORMAT_VERSION, "quantization": quantize}
        exported = OnnxPredictor(open_session(staging / ONNX_FILE, meta), tokenizer, meta, info, batch_size=32)
        got = exported.predict_proba(texts, progress_label=f"export: {quantize or 'fp32'} onnx")
        agreement = float(np.mean(exported.labels(got) == reference.labels(expected)))
        difference = float(
            max(
                np.abs(got.topic_probabilities - expected.topic_probabilities).max(),
                np.abs(got.tone_probabilities - expected.tone_probabilities).max(),
            )
        )
        kind = quantize or "fp32"
        if agreement < AGREEMENT_FLOOR:
            offer = "int8 is only offered" if quantize else "an export is only written"
            fix = (
                "use the fp32 export (leave out --quantize)"
                if quantize
                else "the traced graph is wrong: please report it as a bug"
            )
            raise UserError(
                f"export {kind}: label agreement with fp32 torch is {agreement:.2%} on {len(texts)} sentences of "
                f"{data_path}, below the {AGREEMENT_FLOOR:.0%} at which {offer}; nothing written. {fix}"
            )
        shutil.copy2(Path(model_dir) / META_FILE, staging / META_FILE)
        shutil.copy2(Path(model_dir) / CONFIG_FILE, staging / CONFIG_FILE)
        tokenizer.save_pretrained(str(staging))
        info.update(_describe(model_dir, data_path, texts, agreement, difference))
        (staging / EXPORT_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        megabytes = (staging / ONNX_FILE).stat().st_size / 1e6
        publish_directory(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(output, quantize, agreement, len(texts), data_path, difference, megabytes)


def _describe(model_dir: Path, data_path: Path, texts: list[str], agreement: float, difference: float) -> dict:
    import onnx
    import onnxruntime
    import torch

    return {
        "model_file": ONNX_FILE,
        "inputs": list(INPUT_NAMES),
        "outputs": list(OUTPUT_NAMES),
        "opset": OPSET,
        "exported_from": str(Path(model_dir).resolve()),
        "agreement": {
            "labels": round(agreement, 6),
            "floor": AGREEMENT_FLOOR,
            "sentences": len(texts),
            "data": str(data_path),
            "max_probability_difference": round(difference, 6),
            "definition": "share of labels (each topic decision and the tone of each sentence) equal to fp32 torch's",
        },
        "versions": {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__},
    }
