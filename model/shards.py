"""`predict` across the processes of one launcher: one shard per process, then one merged output.

Under `torchrun --nproc_per_node N stancetag predict --output OUT ...` (or `accelerate launch`,
or N machines of one torchrun job):

- Assignment: every process reads the whole input (folders expanded in sorted order, files row by
  row) and the k-th distinct article id goes to process k % N; the rows of one article all go to
  the same process, so its sentence indices run on exactly as in a single process. A process
  splits and tags its own articles only.
- Shards: process R writes `OUT.shard-RofN`, a complete file in the chosen format, the way any
  `--output` is written (`.partial`, renamed when complete; `--resume` continues a shard).
- Merge: when every process is done, rank 0 gathers from each, over a gloo process group, the
  list of input positions it tagged and how many sentences each gave, and streams the shards into
  OUT in input order: the same bytes a single process writes. The shards are kept. The merge
  needs the folder of OUT to be one that every process sees (one machine, or a shared file
  system); where it is not, rank 0 says so and each machine keeps its shards.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from stancetag.errors import UserError
from stancetag.launch import Launch
from stancetag.model.distributed import gather, process_group
from stancetag.model.predictor import Predictor, record_metadata, rollup_articles
from stancetag.readers import STDIN, iter_documents
from stancetag.resume import resumable_output
from stancetag.text import split_sentences
from stancetag.writers import RecordWriter, atomic_output

Unit = tuple[int, str, int]  # (position in the input, article id, sentences written)


def shard_path(output: Path, rank: int, world_size: int) -> Path:
    return output.with_name(f"{output.name}.shard-{rank}of{world_size}")


def own_articles(
    files: list[str], launch: Launch, units: list[Unit], level: str = "sentence"
) -> Iterator[tuple[str, list[str], dict[str, Any]]]:
    """This process's articles, split into sentences, with their metadata; each one is recorded in
    `units` as it goes, with the records it will write: its sentences, or at article level one
    record for each run of rows of one article (on the run's first row that has sentences)."""
    order: dict[str, int] = {}
    renamed: set[str] = set()
    previous, run_written = None, False
    for position, document in enumerate(iter_documents(files)):
        article = document.article
        if order.setdefault(article, len(order)) % launch.world_size != launch.rank:
            continue
        sentences = split_sentences(document.text)
        if level == "article":
            if article != previous:
                previous, run_written = article, False
            n = 1 if sentences and not run_written else 0
            run_written = run_written or bool(sentences)
        else:
            n = len(sentences)
        units.append((position, article, n))
        yield article, sentences, record_metadata(document.metadata, renamed)


def predict_sharded(
    predictor: Predictor,
    files: list[str],
    output: Path | None,
    fmt: str,
    resume: bool,
    launch: Launch,
    *,
    level: str = "sentence",
    columns: list[str] | tuple[str, ...] = (),
) -> tuple[int, int]:
    """Tag this process's share into its shard; on rank 0 merge all shards into `output`.

    Returns (records, truncated sentences): of the merged output on rank 0, of the shard elsewhere.
    """
    where = f"{launch.world_size} processes (WORLD_SIZE={launch.world_size})"
    if output is None:
        raise UserError(f"{where} need --output FILE: each process writes a shard beside it, merged into it")
    if fmt == "table":
        raise UserError(f"{where} cannot merge --format table; use --format jsonl or csv")
    if STDIN in files:
        raise UserError(f"{where} cannot share standard input (-); save it to a file and pass that file")
    with process_group(launch, "gloo"):  # coordination only: the tensors never leave their process
        units: list[Unit] = []
        shard = shard_path(output, launch.rank, launch.world_size)
        # a shard resumes whole articles: the merge plan counts each article's records
        with resumable_output(shard, fmt, resume, whole_articles=True, force=True) as (stream, done):
            topics, tones = predictor.meta.topics, predictor.meta.tones
            writer = RecordWriter(stream, fmt, topics, tones, header=not done, columns=columns, level=level)
            articles = (item for item in own_articles(files, launch, units, level) if item[0] not in done.articles)
            records = predictor.tag_articles(articles, progress_label="predict")
            if level == "article":
                records = rollup_articles(records, topics, tones)
            for record in records:
                writer.write(record)
        shards = gather((units, predictor.truncated))  # also the barrier: every shard is complete
        if shards is None:
            return sum(n for _, _, n in units), predictor.truncated
        count = merge_shards(output, fmt, [u for u, _ in shards])
        return count, sum(t for _, t in shards)


def merge_shards(output: Path, fmt: str, shard_units: list[list[Unit]]) -> int:
    """Stream the shards of `output` into it, article by article in input order; the sentence count."""
    paths = [shard_path(output, rank, len(shard_units)) for rank in range(len(shard_units))]
    for path in paths:
        if not path.is_file():
            raise UserError(
                f"{path}: not found after every process finished; merging needs a folder that all "
                "processes see (one machine or a shared file system); each process's shard stays where it wrote it"
            )
    plan = sorted(
        (position, rank, article, n) for rank, units in enumerate(shard_units) for position, article, n in units
    )
    count = 0
    with contextlib.ExitStack() as stack, atomic_output(output) as out:
        newline = "" if fmt == "csv" else "\n"  # JSON escapes \r; only \n ends a JSONL record
        readers = [_records(stack.enter_context(p.open(encoding="utf-8", newline=newline)), fmt) for p in paths]
        sink = _Sink(out, fmt)
        for _position, rank, article, n in plan:
            for _ in range(n):
                found, payload, header = next(readers[rank], (None, None, None))
                if found != article:
                    raise _mismatch(paths[rank], article, found)
                sink.write(payload, header)
                count += 1
        for rank, reader in enumerate(readers):
            extra = next(reader, None)
            if extra is not None:
                raise _mismatch(paths[rank], None, extra[0])
    return count


def _mismatch(path: Path, expected: str | None, found: str | None) -> UserError:
    what = f"a sentence of article {expected!r}" if expected is not None else "its end"
    seen = f"article {found!r}" if found is not None else "its end"
    return UserError(
        f"{path}: expected {what} but found {seen}; the shard does not match this input "
        "(a shard of another run?); run again without --resume"
    )


def _records(stream: IO[str], fmt: str) -> Iterator[tuple[str, Any, list[str] | None]]:
    """(article id, the record as written, the CSV header) for each record of one shard."""
    if fmt == "jsonl":
        for line in stream:
            yield json.loads(line)["article"], line, None
        return
    rows = csv.reader(stream)
    header = next(rows, None)
    for row in rows:
        yield row[0], row, header


class _Sink:
    """Writes records read back from shards unchanged (CSV: one header, before the first row)."""

    def __init__(self, stream: IO[str], fmt: str) -> None:
        self.stream, self.fmt = stream, fmt
        self.csv = csv.writer(stream) if fmt == "csv" else None
        self.header_written = False

    def write(self, payload: Any, header: list[str] | None) -> None:
        if self.csv is None:
            self.stream.write(payload)
            return
        if not self.header_written:
            self.csv.writerow(header)
            self.header_written = True
        self.csv.writerow(payload)
