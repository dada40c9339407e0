"""Every third-party package the code imports (at the top or inside a function) is declared in a requirements
file, so a fresh install never misses one that happened to come along with another."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imported_top_level_modules() -> set[str]:
    sources = [*(ROOT / "face2data").rglob("*.py"), *(ROOT / "app_pages").glob("*.py"), ROOT / "streamlit_app.py"]
    modules = set()
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != "face2data"}


def _declared() -> set[str]:
    names = set()
    for file in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / file).read_text().splitlines():
            match = re.match(r"^([A-Za-z0-9_.\-]+)", line.strip())
            if match and not line.startswith("-r"):
                names.add(re.sub(r"[-_.]+", "-", match.group(1)).lower())
    return names


def test_every_imported_package_is_declared():
    distributions = importlib.metadata.packages_distributions()
    declared = _declared()
    missing = {}
    for module in sorted(_imported_top_level_modules()):
        providers = {re.sub(r"[-_.]+", "-", d).lower() for d in distributions.get(module, [module])}
        if not providers & declared:
            missing[module] = sorted(providers)
    assert not missing, f"imported but not in requirements*.txt: {missing}"
