"""The `stancetag` command line: thin handlers that parse flags and call plain functions."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from safetensors import SafetensorError

from stancetag import progress
from stancetag.errors import UserError
from stancetag.paths import OutputKind, any_of, line_contains, starts_with_json_keys, starts_with_line

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
    for noisy in ("httpx", "urllib3", "filelock", "huggingface_hub", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _default_model() -> Path:
    return Path(os.environ.get(MODEL_ENV) or DEFAULT_MODEL)


def _load_config(path: Path | None):
    from stancetag.config import default_config_path, load_config

    return load_config(path or default_config_path())


# What a command reports as one line and exit code 2 (the traceback only with --debug): the user's
# mistakes, and what the operating system says about their paths (full disk, no permission, ...).
FAILURES = (UserError, OSError, MemoryError, RecursionError, UnicodeError, SafetensorError)

_OS_FIXES = {
    errno.ENOSPC: "the disk is full; free space or write somewhere else",
    errno.EFBIG: "the file outgrew the size limit of the file system or of this account; write somewhere else",
    errno.EACCES: "permission denied; choose a path you may read or write",
    errno.EPERM: "not permitted; choose a path you may read or write",
    errno.EROFS: "the file system is read-only; write somewhere else",
    errno.EISDIR: "it is a folder; give a file",
    errno.ENOTDIR: "a part of the path is a file, not a folder; check the path",
    errno.ENOENT: "no such file or folder; check the path",
    errno.ENAMETOOLONG: "the name is too long; choose a shorter one",
    errno.ELOOP: "too many symbolic links; give the real path",
}


def failure_message(err: BaseException) -> str:
    """One line for a failure: a UserError says it all; the others get where, what and a fix."""
    if isinstance(err, UserError):
        return str(err).splitlines()[0] if str(err) else type(err).__name__
    if isinstance(err, OSError):
        where = err.filename if err.filename is not None else "a file or folder"
        what = err.strerror or str(err) or type(err).__name__
        fix = _OS_FIXES.get(err.errno, "check the path, the free space and the permissions")
        return f"{where}: {what}; {fix}"
    if isinstance(err, SafetensorError):  # the weights file; a full disk is reported this way too
        return f"writing or reading model weights failed ({str(err).rsplit(': ', 1)[-1]}); free space or check the path"
    if isinstance(err, MemoryError):
        return "out of memory; use a smaller --batch-size or --bootstrap, or fewer inputs at once"
    if isinstance(err, RecursionError):
        return "the input is nested too deeply to read; flatten it"
    if isinstance(err, UnicodeEncodeError):
        encoding = getattr(sys.stdout, "encoding", None) or "unknown"
        return (
            f"standard output ({encoding}) cannot show some characters of the text; "
            "set PYTHONIOENCODING=utf-8 or write to a file with --output"
        )
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}; check the input's encoding (UTF-8)"


def _fail(err: Exception) -> None:
    if _state["debug"]:
        raise err
    notes = "".join(f" ({note})" for note in getattr(err, "__notes__", []))
    typer.echo(f"error: {failure_message(err)}{notes}", err=True)
    raise typer.Exit(2)


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors on stderr.")] = False,
) -> None:
    _state["debug"] = debug
    for stream in (sys.stdout, sys.stderr):  # an ASCII-only terminal shows "?", never a crash
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="replace")
    _setup_logging(quiet)
    progress.configure(quiet=quiet or not _is_main_process())


ForceOption = Annotated[
    bool,
    typer.Option(
        "--force", help="Replace an existing output that stancetag did not write (only once the new one is complete)."
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bar; only warnings and errors on stderr.")
]


def _quiet(quiet: bool) -> None:
    """`COMMAND --quiet` does what `stancetag --quiet COMMAND` does."""
    if quiet:
        _setup_logging(True)
        progress.configure(quiet=True)


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
    trained_layers: Annotated[
        Optional[int], typer.Option(help="Override training.trained_layers: only this many top encoder layers learn.")
    ] = None,
    teacher: Annotated[
        Optional[Path], typer.Option(help="Override training.teacher: a model folder to distil from.")
    ] = None,
    no_dev: Annotated[
        bool, typer.Option("--no-dev", help="Ignore data.dev; hold out dev articles from --data.")
    ] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run from its last epoch.")] = False,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda.")] = "auto",
    force: ForceOption = False,
) -> None:
    """Fine-tune the base model on labeled sentences and write a model directory.

    --output must be new, empty or an earlier model folder; anything else needs --force.
    """
    try:
        from stancetag.config import with_overrides
        from stancetag.model.folder import check_model_output

        cfg = _load_config(config)
        overrides = {
            "model.base_model": base_model,
            "training.epochs": epochs,
            "training.seed": seed,
            "training.trained_layers": trained_layers,
            "training.teacher": str(teacher) if teacher else None,
        }
        cfg = with_overrides(cfg, {k: v for k, v in overrides.items() if v is not None})
        train_path = data or Path(cfg.data.train)
        dev_path = dev or (Path(cfg.data.dev) if cfg.data.dev and not no_dev and data is None else None)
        if data is None and not train_path.exists():  # e.g. the packaged config, outside a checkout
            raise UserError(f"{train_path}: no such data file (data.train of the config); pass --data FILE")
        if device not in ("auto", "cpu", "cuda"):
            raise UserError(f"--device {device!r}: choose auto, cpu or cuda")
        teacher_path = Path(cfg.training.teacher) if cfg.training.teacher else None
        # Before torch loads; the teacher, like the data, is an input the output must not replace.
        check_model_output(output, cfg.model.base_model, [train_path, dev_path, teacher_path], force=force)
        from stancetag.training.loop import train as run_training

        result = run_training(
            cfg, train_path, dev_path, output, resume=resume, device=device, force=force, progress=progress.enabled()
        )
    except FAILURES as err:
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
    inputs: Annotated[
        list[str], typer.Argument(help="Articles: .txt, .jsonl/.csv/.parquet with `text`, folders, or -.")
    ],
    model: Annotated[
        Optional[Path],
        typer.Option(help=f"Trained model directory, or its ONNX export (run with ONNX Runtime) {MODEL_HELP}."),
    ] = None,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="jsonl, table or csv; or label-studio, argilla or prodigy pre-annotations (docs/annotation_tools.md).",
        ),
    ] = "jsonl",
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
        bool, typer.Option("--resume", help="Continue an interrupted --output, skipping sentences already written.")
    ] = False,
    level: Annotated[
        str,
        typer.Option(help="sentence: a record per sentence; article: a record per article (topic shares, tone mix)."),
    ] = "sentence",
    force: ForceOption = False,
    quiet: QuietOption = False,
) -> None:
    """Split articles into sentences and tag each with topics and a tone.

    Every input column (date, outlet, URL, ...) is kept on each record, and each record names the
    model that made it (`model`: folder name @ weights fingerprint); with --output, OUTPUT.model.json
    beside it says more (path, full SHA-256, thresholds applied, training data). --output must not be
    an input or inside an input folder, and must be new or an earlier prediction (else --force).
    """
    _quiet(quiet)
    try:
        # torch is imported only where it is needed: an ONNX export tags without it (cold start)
        from stancetag.config import PRECISIONS
        from stancetag.launch import launch_from_env
        from stancetag.loop.tasks import ANNOTATION_FORMATS
        from stancetag.model.tagger import Tagger
        from stancetag.paths import check_output
        from stancetag.readers import expand_inputs, iter_documents, metadata_columns
        from stancetag.resume import resumable_output
        from stancetag.writers import (
            FORMATS,
            LEVELS,
            PREDICTIONS_FILE,
            SIDECAR_FILE,
            RecordWriter,
            atomic_output,
            metadata_key,
            sidecar_path,
            write_sidecar,
        )

        if format not in FORMATS + ANNOTATION_FORMATS:
            raise UserError(f"--format {format!r}: choose one of {', '.join(FORMATS + ANNOTATION_FORMATS)}")
        if level not in LEVELS:
            raise UserError(f"--level {level!r}: choose one of {', '.join(LEVELS)}")
        if precision is not None and precision not in PRECISIONS:
            raise UserError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        if batch_size is not None and batch_size < 1:
            raise UserError("--batch-size must be at least 1")
        if device not in ("auto", "cpu", "cuda"):
            raise UserError(f"--device {device!r}: choose auto, cpu or cuda")
        if resume and (output is None or format not in ("jsonl", "csv")):
            raise UserError("--resume needs --output FILE with --format jsonl or csv")
        files = expand_inputs(inputs)
        if output is not None and _is_main_process():
            check_output(output, PREDICTIONS_FILE, inputs=inputs, keep=[model or _default_model()], force=force)
            check_output(sidecar_path(output), SIDECAR_FILE, inputs=inputs, force=force)
        # a CSV header is written before the first row: its metadata columns are read from the inputs first
        columns = [metadata_key(c) for c in metadata_columns(files)] if format == "csv" else []
        launch = launch_from_env()
        if launch.distributed:  # under torchrun: this process's GPU (several processes may share one)
            from stancetag.model.distributed import place_on_gpu
            from stancetag.model.shards import predict_sharded
            from stancetag.model.torch_backend import choose_device

            device = str(place_on_gpu(launch, choose_device(device), one_per_process=False))
        tagger = Tagger.load(model or _default_model(), precision=precision, batch_size=batch_size, device=device)
        tagger.set_thresholds(_parse_thresholds(threshold, tagger.topics))
        predictor = tagger.predictor
        topics, tones = predictor.meta.topics, predictor.meta.tones
        count = 0
        if format in ANNOTATION_FORMATS:
            if launch.distributed:
                raise UserError(f"--format {format} is written by one process; run predict without a launcher")
            if level != "sentence":
                raise UserError(f"--format {format} pre-annotates sentences; drop --level {level}")
            with atomic_output(output) as stream:
                records = predictor.tag_documents(iter_documents(files), level="sentence", progress_label="predict")
                count = _write_tasks(stream, format, predictor, model, records)
        elif launch.distributed:  # one shard per process, merged by rank 0 (see stancetag.model.shards)
            count, predictor.truncated = predict_sharded(
                predictor, files, output, format, resume, launch, level=level, columns=columns
            )
        elif output is None:
            writer = RecordWriter(sys.stdout, format, topics, tones, columns=columns, level=level)
            for record in predictor.tag_documents(iter_documents(files), level=level, progress_label="predict"):
                writer.write(record)
                count += 1
        else:
            identity = {
                "format": format,
                "level": level,
                "model": predictor.identity.sha256 if predictor.identity else None,
                "columns": columns,
            }
            with resumable_output(output, format, resume, identity=identity, force=force) as (stream, done):
                if done.records:
                    log.info(
                        "resuming: %d %s of %d article(s) already in the output are skipped",
                        done.records,
                        "articles" if level == "article" else "sentences",
                        len(done.articles),
                    )
                writer = RecordWriter(stream, format, topics, tones, header=not done, columns=columns, level=level)
                count = done.records
                documents = iter_documents(files)
                if level == "article":
                    documents = (d for d in documents if d.article not in done.articles)
                records = predictor.tag_documents(documents, level=level, progress_label="predict", skip=done.sentences)
                for record in records:
                    writer.write(record)
                    count += 1
        if output is not None and _is_main_process():
            card = {**predictor.provenance(), "level": level, "format": format, "inputs": files}
            write_sidecar(output, card)
        if predictor.truncated:
            log.warning(
                "%d sentence(s) longer than %d tokens were truncated before tagging",
                predictor.truncated,
                predictor.max_length,
            )
    except FAILURES as err:
        _fail(err)
        return
    if output is not None and _is_main_process():
        typer.echo(f"wrote {count} {'articles' if level == 'article' else 'sentences'} to {output}", err=True)


def _write_tasks(stream, fmt: str, predictor, model: Path, records) -> int:
    """Pre-annotation tasks for an annotation tool; the number of sentences written."""
    from stancetag.loop.suggest import record_uncertainty
    from stancetag.loop.tasks import TaskWriter, model_version

    topics, tones = predictor.meta.topics, predictor.meta.tones
    writer = TaskWriter(
        stream,
        fmt,
        topics,
        tones,
        model_version(model, predictor.meta),
        lambda r: 1.0 - record_uncertainty(r, predictor.thresholds, topics, tones),
    )
    count = 0
    for record in records:
        writer.write(record)
        count += 1
    writer.close()
    return count


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
    force: ForceOption = False,
    quiet: QuietOption = False,
) -> None:
    """Write a self-describing ONNX copy of a model that `predict --model` runs with ONNX Runtime.

    The export and fp32 torch tag the check sentences first; below 99% label agreement nothing is written.
    """
    _quiet(quiet)
    try:
        from stancetag.model.export import export_onnx

        if not onnx:
            raise UserError("export: choose the format; --onnx is the only one (stancetag export --onnx --model DIR)")
        result = export_onnx(model or _default_model(), output, quantize=quantize, check_data=check_data, force=force)
    except FAILURES as err:
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
    except FAILURES as err:
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
    force: ForceOption = False,
    quiet: QuietOption = False,
) -> None:
    """Score a trained model on labeled sentences, with intervals, baselines, calibration and errors."""
    _quiet(quiet)
    try:
        from stancetag.evaluation.render import METRICS_OUTPUT, REPORT_FOLDER, terminal_table, write_report
        from stancetag.evaluation.report import ReportOptions, run_metrics
        from stancetag.paths import check_output
        from stancetag.writers import atomic_output, render_json

        if format not in ("table", "json"):
            raise UserError(f"--format {format!r}: choose table or json")
        models = model or [_default_model()]
        read = [data, *([train_data] if train_data else [])]
        if output is not None:
            check_output(output, METRICS_OUTPUT, inputs=read, keep=models, force=force)
        if output_dir is not None:
            check_output(output_dir, REPORT_FOLDER, option="--output-dir", inputs=read, keep=models, force=force)
        options = ReportOptions(errors=errors, resamples=bootstrap, train_path=train_data)
        run = run_metrics(models, data, options)
        with atomic_output(output) as stream:
            stream.write(render_json(run.to_json()) if format == "json" else terminal_table(run))
        if output_dir is not None:
            written = write_report(run, output_dir, force=force)
            typer.echo(f"wrote {len(written)} report files to {output_dir}", err=True)
    except FAILURES as err:
        _fail(err)


@app.command()
def trends(
    inputs: Annotated[
        list[str],
        typer.Argument(help="Predictions from `predict` (JSONL/CSV/Parquet), or articles to tag (like predict's)."),
    ],
    model: Annotated[
        Optional[Path],
        typer.Option(
            help="The model that made the predictions (default: the one their sidecar names, else artifacts/default)."
        ),
    ] = None,
    calibration_data: Annotated[
        Optional[Path],
        typer.Option(help="Labeled JSONL/CSV to measure the model's error rates on (default: the model's dev split)."),
    ] = None,
    period: Annotated[str, typer.Option(help="day, week, month, quarter, year, or none.")] = "year",
    by: Annotated[
        Optional[list[str]], typer.Option(help="Also group by this metadata column (outlet, author); repeatable.")
    ] = None,
    unit: Annotated[str, typer.Option(help="sentence: share of sentences; article: share of articles.")] = "sentence",
    method: Annotated[str, typer.Option(help="pacc (probabilities) or acc (counts of tags).")] = "pacc",
    date_column: Annotated[str, typer.Option(help="The metadata column that holds the date (YYYY-MM-DD).")] = "date",
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the 95% intervals.")] = 1000,
    threshold: Annotated[
        Optional[list[str]], typer.Option(help="Topic threshold LABEL=VALUE the predictions were made with.")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="table or csv (standard output).")] = "table",
    output_dir: Annotated[
        Optional[Path], typer.Option(help="Also write trends.csv, trends.parquet, trends.json and trends.png here.")
    ] = None,
    force: ForceOption = False,
    quiet: QuietOption = False,
) -> None:
    """Shares of topics, tones and topic x tone per period: raw, and corrected for the model's error rates.

    The raw share counts the model's tags; the corrected share undoes the model's measured over- and
    under-tagging (adjusted classify-and-count), with intervals that include the uncertainty of those rates.
    """
    _quiet(quiet)
    try:
        from stancetag.evaluation.trend_report import TRENDS_FOLDER, csv_rows, terminal_table, write_trends
        from stancetag.evaluation.trends import TrendOptions, compute_trends, prepare
        from stancetag.paths import check_output
        from stancetag.readers import expand_inputs

        if format not in ("table", "csv"):
            raise UserError(f"--format {format!r}: choose table or csv")
        options = TrendOptions(
            period=period, by=tuple(by or ()), unit=unit, method=method, date_column=date_column, resamples=bootstrap
        )
        files = expand_inputs(inputs, predictions=True)
        if output_dir is not None:
            read = [*inputs, *([calibration_data] if calibration_data else [])]
            keep = [model or _default_model()]
            check_output(output_dir, TRENDS_FOLDER, option="--output-dir", inputs=read, keep=keep, force=force)
        predictor, calibration = prepare(files, model, _default_model(), calibration_data)
        predictor.thresholds.update(_parse_thresholds(threshold, predictor.meta.topics))
        options = dataclasses.replace(options, seed=predictor.meta.config.training.seed)
        result = compute_trends(files, predictor, calibration, options)
        written = write_trends(result, output_dir, force=force) if output_dir is not None else []
        typer.echo(csv_rows(result.rows) if format == "csv" else terminal_table(result), nl=False)
        if written:
            typer.echo(f"wrote {', '.join(written)} to {output_dir}", err=True)
    except FAILURES as err:
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
    except FAILURES as err:
        _fail(err)


SUGGEST_FORMATS = ("jsonl", "table", "csv")
# Earlier outputs of suggest, import and audit, recognised by how each of their formats begins.
SUGGESTIONS_FILE = OutputKind(
    "suggestions file", folder=False, is_own=any_of(starts_with_json_keys("rank", "reason"), starts_with_line("rank"))
)
LABELED_FILE = OutputKind("labeled file", folder=False, is_own=starts_with_json_keys("text", "topics", "tone"))
AUDIT_FILE = OutputKind(
    "audit report",
    folder=False,
    is_own=any_of(
        starts_with_json_keys("method", "issues"),
        starts_with_json_keys("rank", "label_quality"),
        starts_with_line("rank,line,article"),
        line_contains(" flagged ("),
    ),
)


def _suggest_table(picks: list[dict]) -> str:
    from stancetag.writers import terminal_safe_text

    lines = [f"{'rank':>4}  {'sentence':<60}  {'article#':<18}  reason"]
    for p in picks:
        text = terminal_safe_text(p["text"])
        text = text if len(text) <= 60 else text[:57] + "..."
        where = terminal_safe_text(f"{p['article']}#{p['sentence_index']}")
        lines.append(f"{p['rank']:>4}  {text:<60}  {where[:18]:<18}  {p['reason']}")
    return "\n".join(lines) + "\n"


def _suggest_csv(picks: list[dict], topics: tuple[str, ...], tones: tuple[str, ...]) -> str:
    from stancetag.writers import csv_text

    header = ["rank", "article", "sentence_index", "text", "topics", "tone", "uncertainty", "reason"]
    header += [f"topic_score_{t}" for t in topics] + [f"tone_score_{t}" for t in tones]
    rows = [header]
    for p in picks:
        rows.append(
            [p["rank"], p["article"], p["sentence_index"], p["text"], ";".join(p["topics"]), p["tone"]]
            + [p["uncertainty"], p["reason"]]
            + [p["topic_scores"][t] for t in topics]
            + [p["tone_scores"][t] for t in tones]
        )
    return csv_text(rows)


def _excluded_texts(paths: list[Path] | None) -> set[str]:
    from stancetag.readers import iter_rows

    texts: set[str] = set()
    for path in paths or []:
        for _, row in iter_rows(path, ("text",)):
            if isinstance(row.get("text"), str):
                texts.add(row["text"].strip())
    return texts


@app.command()
def suggest(
    inputs: Annotated[
        list[str], typer.Argument(help="Unlabeled articles: .txt, .jsonl/.csv with `text`, folders, or -.")
    ],
    model: Annotated[
        Optional[Path], typer.Option(help=f"Trained model directory (or its ONNX export) {MODEL_HELP}.")
    ] = None,
    count: Annotated[int, typer.Option("--count", "-n", help="How many sentences to suggest.")] = 50,
    strategy: Annotated[
        Optional[str], typer.Option(help="uncertainty (default: it beat random in bench/active_learning.py) or random.")
    ] = None,
    per_article: Annotated[int, typer.Option(help="At most this many sentences of one article.")] = 3,
    max_similarity: Annotated[
        float, typer.Option(help="Skip a sentence whose TF-IDF cosine with one already picked is this or more.")
    ] = 0.8,
    exclude: Annotated[
        Optional[list[Path]], typer.Option(help="JSONL/CSV whose `text` sentences are never suggested; repeatable.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random strategy.")] = 0,
    format: Annotated[
        str, typer.Option("--format", help="jsonl, table, csv; or label-studio, argilla, prodigy pre-annotations.")
    ] = "jsonl",
    output: Annotated[Optional[Path], typer.Option(help="Write here instead of standard output.")] = None,
    force: ForceOption = False,
) -> None:
    """The sentences most worth labeling next: spread over articles, no near-duplicates, each with its reason."""
    try:
        from stancetag.loop.suggest import DEFAULT_STRATEGY, SuggestOptions, suggest_records, summary
        from stancetag.loop.tasks import ANNOTATION_FORMATS
        from stancetag.model.predictor import load_predictor
        from stancetag.paths import check_output
        from stancetag.readers import expand_inputs, iter_articles
        from stancetag.writers import atomic_output

        if format not in SUGGEST_FORMATS + ANNOTATION_FORMATS:
            raise UserError(f"--format {format!r}: choose one of {', '.join(SUGGEST_FORMATS + ANNOTATION_FORMATS)}")
        options = SuggestOptions(count, strategy or DEFAULT_STRATEGY, per_article, max_similarity, seed)
        files = expand_inputs(inputs)
        model = model or _default_model()
        if output is not None:
            check_output(output, SUGGESTIONS_FILE, inputs=[*inputs, *(exclude or [])], keep=[model], force=force)
        skip = _excluded_texts(exclude)
        predictor = load_predictor(model)
        topics, tones = predictor.meta.topics, predictor.meta.tones
        records = [r for r in predictor.tag_articles(iter_articles(files)) if r["text"].strip() not in skip]
        if not records:
            raise UserError("no sentence left to suggest: the inputs are empty or every sentence is in --exclude")
        picks = suggest_records(records, predictor.thresholds, topics, tones, options)
        if predictor.truncated:
            log.warning(
                "%d sentence(s) longer than %d tokens were truncated before tagging",
                predictor.truncated,
                predictor.max_length,
            )
        with atomic_output(output) as stream:
            if format in ANNOTATION_FORMATS:
                _write_tasks(stream, format, predictor, model, picks)
            elif format == "table":
                stream.write(_suggest_table(picks))
            elif format == "csv":
                stream.write(_suggest_csv(picks, topics, tones))
            else:
                stream.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in picks)
    except FAILURES as err:
        _fail(err)
        return
    typer.echo(summary(picks, len(records)) + (f"; wrote {output}" if output else ""), err=True)


@app.command("import")
def import_annotations(
    files: Annotated[list[Path], typer.Argument(help="Exports of finished annotations (.json or .jsonl).")],
    source: Annotated[
        str, typer.Option("--from", help="auto (tell from the file), label-studio, argilla or prodigy.")
    ] = "auto",
    config: Annotated[Optional[Path], typer.Option(help=CONFIG_HELP)] = None,
    output: Annotated[Optional[Path], typer.Option(help="Labeled JSONL to write (default: standard output).")] = None,
    skip_conflicts: Annotated[
        bool, typer.Option("--skip-conflicts", help="Leave out sentences whose annotators disagree (else an error).")
    ] = False,
    force: ForceOption = False,
) -> None:
    """Turn annotation tools' exports into stancetag's labeled JSONL, validated like training data."""
    try:
        from stancetag.labeled import ExampleSet
        from stancetag.loop.imports import TOOL_NAMES
        from stancetag.loop.imports import import_annotations as read_export
        from stancetag.paths import check_output
        from stancetag.writers import atomic_output

        if output is not None:
            check_output(output, LABELED_FILE, inputs=files, keep=[config] if config else [], force=force)
        labels = _load_config(config).labels
        seen = ExampleSet()
        results = [
            (path, read_export(path, labels, source, skip_conflicts=skip_conflicts, seen=seen)) for path in files
        ]
        with atomic_output(output) as stream:
            for _, result in results:
                stream.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in result.rows)
    except FAILURES as err:
        _fail(err)
        return
    for path, result in results:
        skipped = "; ".join(f"{n} {why}" for why, n in sorted(result.skipped.items()))
        typer.echo(
            f"{path}: {len(result.rows)} labeled sentences from {TOOL_NAMES[result.tool]}"
            + (f" (skipped {skipped})" if skipped else ""),
            err=True,
        )


AUDIT_FORMATS = ("table", "markdown", "csv", "json", "jsonl")


@app.command()
def audit(
    data: Annotated[Path, typer.Argument(help="Labeled JSONL/CSV with `article` ids.")],
    config: Annotated[Optional[Path], typer.Option(help=CONFIG_HELP)] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="TF-IDF + logistic regression out-of-fold probabilities (seconds).")
    ] = False,
    folds: Annotated[int, typer.Option(help="Article-grouped folds.")] = 5,
    epochs: Annotated[Optional[int], typer.Option(help="Override training.epochs (without --quick).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Override training.seed (also seeds the folds).")] = None,
    top: Annotated[Optional[int], typer.Option(help="Show only the N most likely errors.")] = None,
    format: Annotated[str, typer.Option("--format", help="table, markdown, csv, json or jsonl.")] = "table",
    output: Annotated[Optional[Path], typer.Option(help="Write here instead of standard output.")] = None,
    force: ForceOption = False,
) -> None:
    """Likely label errors: out-of-fold probabilities and cleanlab, ranked with given and suggested labels."""
    try:
        from stancetag.config import with_overrides
        from stancetag.loop.audit import audit as run_audit
        from stancetag.loop.audit import audit_csv, audit_markdown, audit_table
        from stancetag.paths import check_output
        from stancetag.writers import atomic_output, render_json

        if output is not None:
            check_output(output, AUDIT_FILE, inputs=[data], keep=[config] if config else [], force=force)
        if format not in AUDIT_FORMATS:
            raise UserError(f"--format {format!r}: choose one of {', '.join(AUDIT_FORMATS)}")
        if top is not None and top < 1:
            raise UserError(f"--top {top}: show at least 1")
        cfg = _load_config(config)
        overrides = {"training.epochs": epochs, "training.seed": seed}
        cfg = with_overrides(cfg, {k: v for k, v in overrides.items() if v is not None})
        result = run_audit(cfg, data, folds=folds, quick=quick, progress=logging.getLogger().level <= logging.INFO)
        with atomic_output(output) as stream:
            if format == "json":
                stream.write(render_json(result.to_json()))
            elif format == "jsonl":
                stream.writelines(json.dumps(i, ensure_ascii=False) + "\n" for i in result.issues[:top])
            else:
                render = {"table": audit_table, "markdown": audit_markdown, "csv": audit_csv}[format]
                stream.write(render(result, top))
    except FAILURES as err:
        _fail(err)
        return
    c = result.counts()
    typer.echo(
        f"audit: {c['flagged']} of {c['sentences']} sentences flagged ({c['topic_issues']} topic, "
        f"{c['tone_issues']} tone)" + (f"; wrote {output}" if output else ""),
        err=True,
    )


if __name__ == "__main__":
    app()
