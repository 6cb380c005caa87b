"""The package layers import only downward, and no two packages import each other."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "stancetag": "stancetag",
    "configs": "stancetag.configs",
    "model": "stancetag.model",
    "evaluation": "stancetag.evaluation",
    "training": "stancetag.training",
    "loop": "stancetag.loop",
}
FLOOR = {
    "errors",
    "config",
    "configs",
    "text",
    "readers",
    "writers",
    "paths",
    "resume",
    "labeled",
    "launch",
    "progress",
    "tables",
}
LAYERS = {
    "floor": 0,
    "stancetag.model": 1,
    "stancetag.evaluation": 2,
    "stancetag.training": 3,
    "stancetag.loop": 4,
    "cli": 5,
}


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in ("model", "evaluation", "training", "loop"):
        return f"stancetag.{parts[1]}"
    if len(parts) >= 2 and parts[1] == "cli":
        return "cli"
    if len(parts) == 2 and parts[1] in FLOOR:
        return "floor"
    raise AssertionError(f"{module}: not in any layer; add it to tests/test_layers.py")


def library_imports():
    """(importing module, imported stancetag module) for every import in the library code."""
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stancetag"):
                    targets = (
                        [node.module]
                        if node.module not in ("stancetag", "stancetag.model", "stancetag.loop")
                        else [f"{node.module}.{alias.name}" for alias in node.names]
                    )
                    yield from ((name, t) for t in targets)
                elif isinstance(node, ast.Import):
                    yield from ((name, a.name) for a in node.names if a.name.startswith("stancetag."))


def test_every_import_goes_down_a_layer_or_stays_in_its_own():
    upward = []
    for importer, imported in library_imports():
        if importer.split(".")[-1] == "__init__" or importer in FOLDERS.values():
            continue
        if LAYERS[layer_of(imported)] > LAYERS[layer_of(importer)]:
            upward.append(f"{importer} -> {imported}")
    assert upward == []


def test_nothing_imports_the_cli():
    assert [i for i, target in library_imports() if target == "stancetag.cli"] == []


def test_the_onnx_path_and_the_floor_import_no_torch():
    heavy = {"torch", "transformers"}
    for module in [
        "stancetag/text.py",
        "stancetag/readers.py",
        "stancetag/tables.py",
        "stancetag/writers.py",
        "stancetag/paths.py",
        "stancetag/resume.py",
        "stancetag/progress.py",
        "stancetag/labeled.py",
        "stancetag/config.py",
        "model/meta.py",
        "model/folder.py",
        "model/predictor.py",
        "model/onnx_backend.py",
        "model/tagger.py",
    ]:
        tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
        top = {a.name.split(".")[0] for n in tree.body if isinstance(n, ast.Import) for a in n.names}
        top |= {n.module.split(".")[0] for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
        assert not top & heavy, f"{module} imports {top & heavy} at module level"
