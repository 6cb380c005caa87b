"""The `stancetag` command line: thin handlers that parse flags and call plain functions."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from stancetag.errors import UserError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Tag news sentences on U.S.-China relations with topics and a tone.",
    pretty_exceptions_enable=False,
)

DEFAULT_MODEL = Path("artifacts/default")
MODEL_ENV = "STANCETAG_MODEL"  # the model `predict`, `export` and `metrics` use when --model is not given
DATA_FORMATS = "JSONL, CSV, Parquet, Arrow, a JSON array or a save_to_disk folder"
CONFIG_HELP = "YAML config (default: configs/default.yaml here, else the one shipped with stancetag)."
MODEL_HELP = f"(default: ${MODEL_ENV}, else {DEFAULT_MODEL})"

_state = {"debug": False}
log = logging.getLogger("stancetag")


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = "warning: " if record.levelno >= logging.WARNING else ""
        return prefix + record.getMessage()


class _ProgressAwareHandler(logging.StreamHandler):
    """Writes log lines through tqdm so they do not break a progress bar that is being drawn."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm.auto import tqdm

        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # logging must never crash the command
            self.handleError(record)


def _is_main_process() -> bool:
    """False in the processes of rank 1, 2, ... that torchrun / accelerate launch start beside rank 0."""
    return os.environ.get("RANK", "0") in ("", "0")


def _setup_logging(quiet: bool) -> None:
    handler = _ProgressAwareHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = logging.WARNING if quiet else logging.INFO
    root.setLevel(level if _is_main_process() else logging.ERROR)  # N processes, one voice: rank 0
    for noisy in ("httpx", "urllib3", "filelock", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _default_model() -> Path:
    return Path(os.environ.get(MODEL_ENV) or DEFAULT_MODEL)


def _load_config(path: Path | None):
    from stancetag.config import default_config_path, load_config

    return load_config(path or default_config_path())


def _fail(err: Exception) -> None:
    if _state["debug"]:
        raise err
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(2)


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors on stderr.")] = False,
) -> None:
    _state["debug"] = debug
    _setup_logging(quiet)


def _parse_thresholds(values: list[str] | None, topics: tuple[str, ...]) -> dict[str, float]:
    from stancetag.errors import did_you_mean

    out = {}
    for item in values or []:
        label, sep, raw = item.partition("=")
        if not sep:
            raise UserError(f"--threshold {item!r}: expected LABEL=VALUE, e.g. trade=0.7")
        if label not in topics:
            raise UserError(f'--threshold: unknown topic "{label}"{did_you_mean(label, list(topics))}')
        try:
            value = float(raw)
        except ValueError:
            raise UserError(f"--threshold {item!r}: {raw!r} is not a number between 0 and 1") from None
        if not 0.0 <= value <= 1.0:
            raise UserError(f"--threshold {item!r}: the value must be between 0 and 1")
        out[label] = value
    return out


@app.command()
def train(
    config: Annotated[Optional[Path], typer.Option(help=CONFIG_HELP)] = None,
    data: Annotated[Optional[Path], typer.Option(help=f"Labeled data: {DATA_FORMATS} (default: data.train).")] = None,
    dev: Annotated[
        Optional[Path], typer.Option(help="Dev data, same formats (default: data.dev, else held out by article).")
    ] = None,
    output: Annotated[Path, typer.Option(help="Model directory to write.")] = DEFAULT_MODEL,
    base_model: Annotated[Optional[str], typer.Option(help="Override model.base_model: folder or hub name.")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Override training.epochs.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Override training.seed.")] = None,
    no_dev: Annotated[
        bool, typer.Option("--no-dev", help="Ignore data.dev; hold out dev articles from --data.")
    ] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run from its last epoch.")] = False,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda.")] = "auto",
) -> None:
    """Fine-tune the base model on labeled sentences and write a model directory."""
    try:
        from stancetag.config import with_overrides
        from stancetag.training.loop import train as run_training

        cfg = _load_config(config)
        overrides = {"model.base_model": base_model, "training.epochs": epochs, "training.seed": seed}
        cfg = with_overrides(cfg, {k: v for k, v in overrides.items() if v is not None})
        train_path = data or Path(cfg.data.train)
        dev_path = dev or (Path(cfg.data.dev) if cfg.data.dev and not no_dev and data is None else None)
        if data is None and not train_path.exists():  # e.g. the packaged config, outside a checkout
            raise UserError(f"{train_path}: no such data file (data.train of the config); pass --data FILE")
        if device not in ("auto", "cpu", "cuda"):
            raise UserError(f"--device {device!r}: choose auto, cpu or cuda")
        result = run_training(cfg, train_path, dev_path, output, resume=resume, device=device)
    except UserError as err:
        _fail(err)
        return
    if not _is_main_process():
        return
    m = result.dev_metrics
    typer.echo(
        f"saved {result.output} (best epoch {result.best_epoch} of {result.epochs_run}, "
        f"{result.seconds:.0f}s): dev topic micro-F1 {m['topics']['micro_f1']:.3f}, "
        f"macro-F1 {m['topics']['macro_f1']:.3f}; tone accuracy {m['tone']['accuracy']:.3f}, "
        f"macro-F1 {m['tone']['macro_f1']:.3f}",
        err=True,
    )


@app.command()
def predict(
    inputs: Annotated[list[str], typer.Argument(help="Articles: .txt, .jsonl/.csv with `text`, folders, or -.")],
    model: Annotated[
        Optional[Path],
        typer.Option(help=f"Trained model directory, or its ONNX export (run with ONNX Runtime) {MODEL_HELP}."),
    ] = None,
    format: Annotated[str, typer.Option("--format", help="jsonl, table or csv.")] = "jsonl",
    output: Annotated[
        Optional[Path],
        typer.Option(help="Write here, not to standard output (torchrun: OUTPUT.shard-RofN per process, merged here)."),
    ] = None,
    threshold: Annotated[Optional[list[str]], typer.Option(help="Topic threshold LABEL=VALUE; repeatable.")] = None,
    precision: Annotated[Optional[str], typer.Option(help="auto, fp32 or bf16 (default: the model's config).")] = None,
    batch_size: Annotated[
        Optional[int], typer.Option(help="Sentences per batch (default: the model's config; 8x that on a GPU).")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted --output, skipping articles already written.")
    ] = False,
) -> None:
    """Split articles into sentences and tag each with topics and a tone."""
    try:
        # torch is imported only where it is needed: an ONNX export tags without it (cold start)
        from stancetag.config import PRECISIONS
        from stancetag.launch import launch_from_env
        from stancetag.model.tagger import Tagger
        from stancetag.readers import expand_inputs, iter_texts
        from stancetag.writers import FORMATS, RecordWriter, resumable_output

        if format not in FORMATS:
            raise UserError(f"--format {format!r}: choose one of {', '.join(FORMATS)}")
        if precision is not None and precision not in PRECISIONS:
            raise UserError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        if batch_size is not None and batch_size < 1:
            raise UserError("--batch-size must be at least 1")
        if device not in ("auto", "cpu", "cuda"):
            raise UserError(f"--device {device!r}: choose auto, cpu or cuda")
        files = expand_inputs(inputs)
        launch = launch_from_env()
        if launch.distributed:  # under torchrun: this process's GPU (several processes may share one)
            from stancetag.model.distributed import place_on_gpu
            from stancetag.model.shards import predict_sharded
            from stancetag.model.torch_backend import choose_device

            device = str(place_on_gpu(launch, choose_device(device), one_per_process=False))
        tagger = Tagger.load(model or _default_model(), precision=precision, batch_size=batch_size, device=device)
        tagger.set_thresholds(_parse_thresholds(threshold, tagger.topics))
        predictor = tagger.predictor
        if resume and (output is None or format == "table"):
            raise UserError("--resume needs --output FILE with --format jsonl or csv")
        count = 0
        if launch.distributed:  # one shard per process, merged by rank 0 (see stancetag.model.shards)
            count, predictor.truncated = predict_sharded(predictor, files, output, format, resume, launch)
        elif output is None:
            writer = RecordWriter(sys.stdout, format, predictor.meta.topics, predictor.meta.tones)
            for record in tagger.stream(iter_texts(files)):
                writer.write(record)
                count += 1
        else:
            with resumable_output(output, format, resume) as (stream, done):
                if done:
                    log.info("resuming: %d article(s) already in the output are skipped", len(done))
                writer = RecordWriter(stream, format, predictor.meta.topics, predictor.meta.tones, header=not done)
                articles = ((a, t) for a, t in iter_texts(files) if a not in done)
                for record in tagger.stream(articles):
                    writer.write(record)
                    count += 1
        if predictor.truncated:
            log.warning(
                "%d sentence(s) longer than %d tokens were truncated before tagging",
                predictor.truncated,
                predictor.max_length,
            )
    except UserError as err:
        _fail(err)
        return
    if output is not None and _is_main_process():
        typer.echo(f"wrote {count} sentences to {output}", err=True)


@app.command()
def export(
    onnx: Annotated[bool, typer.Option("--onnx", help="Export to ONNX (the only format so far).")] = False,
    model: Annotated[Optional[Path], typer.Option(help=f"Trained model directory to export {MODEL_HELP}.")] = None,
    output: Annotated[
        Optional[Path], typer.Option(help="Folder to write (default: beside the model, DIR-onnx or DIR-onnx-int8).")
    ] = None,
    quantize: Annotated[
        Optional[str], typer.Option(help="int8: dynamic int8 weights, only if label agreement stays >= 99%.")
    ] = None,
    check_data: Annotated[
        Optional[Path],
        typer.Option(help="JSONL/CSV whose `text` rows measure agreement (default: the model's test/dev/train file)."),
    ] = None,
) -> None:
    """Write a self-describing ONNX copy of a model that `predict --model` runs with ONNX Runtime.

    The export and fp32 torch tag the check sentences first; below 99% label agreement nothing is written.
    """
    try:
        from stancetag.model.export import export_onnx

        if not onnx:
            raise UserError("export: choose the format; --onnx is the only one (stancetag export --onnx --model DIR)")
        result = export_onnx(model or _default_model(), output, quantize=quantize, check_data=check_data)
    except UserError as err:
        _fail(err)
        return
    typer.echo(
        f"wrote {result.output} ({result.quantization or 'fp32'}, {result.megabytes:.0f} MB): label agreement with "
        f"fp32 torch {result.agreement:.2%} on {result.sentences} sentences of {result.check_data} "
        f"(largest probability difference {result.max_difference:.4f})",
        err=True,
    )


@app.command()
def check(
    data: Annotated[list[Path], typer.Argument(help=f"Labeled data ({DATA_FORMATS}), e.g. train, dev and test.")],
    config: Annotated[Optional[Path], typer.Option(help=CONFIG_HELP)] = None,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Validate labeled data without training: rows, label counts, duplicates, conflicts, leakage."""
    try:
        from stancetag.training.check import check_files, check_table
        from stancetag.writers import render_json

        if format not in ("table", "json"):
            raise UserError(f"--format {format!r}: choose table or json")
        report = check_files(data, _load_config(config).labels)
    except UserError as err:
        _fail(err)
        return
    typer.echo(render_json(report) if format == "json" else check_table(report), nl=False)


@app.command()
def metrics(
    data: Annotated[Path, typer.Option(help=f"Labeled data to score: {DATA_FORMATS}.")],
    model: Annotated[
        Optional[list[Path]],
        typer.Option(help=f"Trained model directory; give it twice to compare two models {MODEL_HELP}."),
    ] = None,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    output: Annotated[Optional[Path], typer.Option(help="Write here instead of standard output.")] = None,
    output_dir: Annotated[
        Optional[Path], typer.Option(help="Also write metrics.json, report.md, errors.csv and PNG figures here.")
    ] = None,
    errors: Annotated[int, typer.Option(help="List this many most confident mistakes.")] = 20,
    train_data: Annotated[
        Optional[Path], typer.Option("--train", help="Training data for the baselines (default: the model's own).")
    ] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples of articles for the 95% intervals.")] = 1000,
) -> None:
    """Score a trained model on labeled sentences, with intervals, baselines, calibration and errors."""
    try:
        from stancetag.evaluation.render import terminal_table, write_report
        from stancetag.evaluation.report import ReportOptions, run_metrics
        from stancetag.writers import atomic_output, render_json

        if format not in ("table", "json"):
            raise UserError(f"--format {format!r}: choose table or json")
        options = ReportOptions(errors=errors, resamples=bootstrap, train_path=train_data)
        run = run_metrics(model or [_default_model()], data, options)
        with atomic_output(output) as stream:
            stream.write(render_json(run.to_json()) if format == "json" else terminal_table(run))
        if output_dir is not None:
            written = write_report(run, output_dir)
            typer.echo(f"wrote {len(written)} report files to {output_dir}", err=True)
    except UserError as err:
        _fail(err)


@app.command()
def crossval(
    data: Annotated[Path, typer.Argument(help=f"Labeled data with `article` ids: {DATA_FORMATS}.")],
    config: Annotated[Optional[Path], typer.Option(help=CONFIG_HELP)] = None,
    folds: Annotated[int, typer.Option(help="Number of article-grouped folds.")] = 5,
    epochs: Annotated[Optional[int], typer.Option(help="Override training.epochs.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Override training.seed (also seeds the folds).")] = None,
    base_model: Annotated[Optional[str], typer.Option(help="Override model.base_model: folder or hub name.")] = None,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    by: Annotated[
        Optional[str],
        typer.Option(help="register (or era): leave one out: train without it, score on it; --folds is ignored."),
    ] = None,
) -> None:
    """Train and score one model per article-grouped fold (or per held-out register); print means and std."""
    try:
        from stancetag.config import with_overrides
        from stancetag.training.crossval import crossval as run_crossval
        from stancetag.training.crossval import crossval_table
        from stancetag.writers import render_json

        if format not in ("table", "json"):
            raise UserError(f"--format {format!r}: choose table or json")
        cfg = _load_config(config)
        overrides = {"model.base_model": base_model, "training.epochs": epochs, "training.seed": seed}
        cfg = with_overrides(cfg, {k: v for k, v in overrides.items() if v is not None})
        result = run_crossval(cfg, data, folds, by=by, progress=logging.getLogger().level <= logging.INFO)
        typer.echo(render_json(result.to_json()) if format == "json" else crossval_table(result), nl=False)
    except UserError as err:
        _fail(err)


if __name__ == "__main__":
    app()
