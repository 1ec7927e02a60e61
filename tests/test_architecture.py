"""The shape of the code, kept true: imports flow one way (core → worlds → data → training → claims
→ report → cli → scenes) with no cycle, modules and functions stay small, and importing the maths
has no side effects."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("lab", "scenes")
# Layer of each part of the project: a module may import its own layer or a lower one.
LAYERS = {
    "lab": 0,  # the package itself re-exports the maths core
    "lab.core": 0,
    "lab.files": 0,
    "lab.palette": 0,
    "lab.colour_vision": 0,
    "lab.worlds": 1,
    "lab.data": 2,
    "lab.training": 3,
    "lab.experiments": 4,  # the chapters' experiments: runs of the trainers, with their records
    "lab.claims": 4,
    "lab.report": 5,
    "lab.cli": 6,
    "scenes": 7,
}
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every project module ``path`` imports, wherever the import statement stands (inside a
    function, under TYPE_CHECKING): an import hidden in a function is still a dependency."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: use absolute imports (from lab.… import …)"
            base = node.module
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found


def layer(module: str) -> int:
    best = max(
        (prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")),
        key=len,
    )
    return LAYERS[best]


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(path, modules) - {name} for name, path in modules.items()}


def test_every_module_has_a_layer() -> None:
    for module in project_modules():
        assert any(module == p or module.startswith(p + ".") for p in LAYERS), module


def test_imports_flow_one_way() -> None:
    backward = [
        f"{module} (layer {layer(module)}) imports {target} (layer {layer(target)})"
        for module, targets in import_graph().items()
        for target in sorted(targets)
        if layer(target) > layer(module)
    ]
    assert not backward, "\n".join(backward)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as a list of modules, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " → ".join(cycle)


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_a_hidden_backward_import_is_found(tmp_path: Path) -> None:
    """An import inside a function counts: that is how the old cycles hid."""
    path = ROOT / "lab" / "core" / "dpo.py"
    modules = project_modules()
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    from lab.training.tabular import train_tabular\n")
    assert "lab.training.tabular" in imports_of(source, modules)
    assert "lab.core.validation" in imports_of(path, modules)


def test_modules_and_functions_stay_small() -> None:
    too_long = []
    for name, path in project_modules().items():
        if not name.startswith("lab"):
            continue
        source = path.read_text()
        lines = source.count("\n")
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert not too_long, "\n".join(too_long)


PROBE = """
import json, sys
from lab import dpo_loss
heavy = [m for m in ("sympy", "mpmath", "transformers", "manim") if m in sys.modules]
claims = [m for m in sys.modules if m.startswith("lab.claims")]
print(json.dumps({"heavy": heavy, "claim_modules": claims}))
"""


@pytest.mark.parametrize("statement", ["from lab import dpo_loss", "import lab.claims"])
def test_importing_the_lab_has_no_side_effects(statement: str) -> None:
    """The maths core needs torch only; claims are collected when asked for, not on import."""
    probe = PROBE.replace("from lab import dpo_loss", statement)
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = json.loads(result.stdout)
    assert loaded["heavy"] == []
    if statement.startswith("from lab"):
        assert loaded["claim_modules"] == []
    else:  # the registry and the TeX reader, but none of the modules that hold claims
        from lab.claims import CLAIM_MODULES

        assert "lab.claims.registry" in loaded["claim_modules"]
        assert not set(CLAIM_MODULES) & set(loaded["claim_modules"])


def test_verify_needs_no_transformer_library() -> None:
    """Every claim is checked without importing transformers (a 2-second import)."""
    probe = (
        "import sys; from lab.claims import all_claims; all_claims(); "
        "print('transformers' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "False"
