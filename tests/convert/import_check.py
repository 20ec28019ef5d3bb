"""What a package's modules import, read from their source (``ast``): the independence checks of
the kit's other generators (``convert.altsim``, ``convert.holdoutsim``) use it."""

from __future__ import annotations

import ast
from pathlib import Path


def imported_modules(path: Path, package: str) -> list[str]:
    """Absolute module names ``path`` imports, relative imports resolved within ``package``
    (e.g. ``"convert.altsim"``); ``from M import n`` gives both ``M`` and ``M.n``; a call of
    ``import_module``/``__import__`` gives ``"<dynamic import>"``."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parent + ([base] if base else []))
            names.append(base)
            names += [f"{base}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__"):
            names.append("<dynamic import>")
    return names
