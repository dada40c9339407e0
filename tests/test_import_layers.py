"""No import cycle in face2data/: the imports between its modules, lazy ones included, form a graph without loops."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "face2data"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.Module) -> list[str]:
    """Every module the file imports, at its top or inside a function (a lazy import that closes a loop is still
    a loop), leaving out ``if TYPE_CHECKING:`` blocks, which never run."""
    skipped = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
               and getattr(block.test, "id", None) == "TYPE_CHECKING" for node in ast.walk(block)}  # fmt: skip
    names = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def import_graph() -> dict[str, set[str]]:
    """face2data module -> the face2data modules it imports."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        imported = _imports(ast.parse(path.read_text(encoding="utf-8")))
        graph[name] = {target for target in imported if target in modules and target != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (loop := visit(target)):
                return loop
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (loop := visit(node)):
            return loop
    return None


def test_the_walk_finds_a_loop_when_there_is_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_face2data():
    graph = import_graph()
    assert "face2data.explanation.regions" in graph and "face2data.explanation.core" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


# The floors of ARCHITECTURE.md, lowest first: a module imports only from its own floor or the ones below.
# A module is placed by the longest entry that is a prefix of its dotted name.
FLOORS = {
    "face2data": 0,  # the package's __init__ and __main__ are placed by their own entries below
    "face2data.schema": 0, "face2data.limits": 0, "face2data.paths": 0, "face2data.machine": 0,
    "face2data.outputs": 0, "face2data.calibration": 0, "face2data.safe_text": 0,
    "face2data.image_loading": 1, "face2data.data": 1, "face2data.faces": 1, "face2data.inputs": 1,
    "face2data.model": 2, "face2data.model_loading": 2, "face2data.tflite_model": 2, "face2data.crops": 2,
    "face2data.training": 2, "face2data.training_speed": 2, "face2data.head_training": 2,
    "face2data.distribution": 2,
    "face2data.predictor": 3, "face2data.results": 3, "face2data.text_table": 3,
    "face2data.explanation": 4, "face2data.evaluation": 4, "face2data.model_card": 4,
    "face2data.cli": 5, "face2data.__main__": 5, "face2data.api": 5, "face2data.batch": 5, "face2data.ui": 5,
}  # fmt: skip


def floor_of(module: str) -> int:
    """The floor of a face2data module (KeyError for one the map does not place)."""
    prefixes = [p for p in FLOORS if module == p or module.startswith(p + ".")]
    if prefixes == ["face2data"] and module != "face2data":
        raise KeyError(f"{module} has no floor in FLOORS")
    return FLOORS[max(prefixes, key=len)]


def test_every_module_has_a_floor_and_imports_none_above_it():
    graph = import_graph()
    upward = [f"{m} (floor {floor_of(m)}) imports {t} (floor {floor_of(t)})" for m, targets in sorted(graph.items())
              for t in sorted(targets) if floor_of(t) > floor_of(m)]  # fmt: skip
    assert not upward, "\n".join(upward)
