"""The walls between the packages, checked on the source (every import at any depth, function-local
and ``TYPE_CHECKING`` ones included, relative imports resolved).

* ``firmware_bridge`` imports neither ``edge`` nor ``convert`` (the wire is the bottom layer);
* ``edge`` does not import ``convert`` (training builds on the device, not the other way);
* ``edge``, ``firmware_bridge`` and ``clikit`` never import TensorFlow or Keras;
* the codec (``firmware_bridge.codec``) imports neither the host side nor the simulated unit;
* ``clikit`` imports none of ``edge``, ``convert``, ``firmware_bridge``.

Literal ``importlib.import_module("...")`` and ``__import__("...")`` calls count as imports.
A failure lists every offending ``file:line``. The one documented exception is in
:data:`ALLOWED`.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (importing package, forbidden prefixes, why)
RULES: list[tuple[str, tuple[str, ...], str]] = [
    ("firmware_bridge", ("edge", "convert"), "the wire is the bottom layer"),
    ("edge", ("convert",), "convert builds on edge, never the other way"),
    ("edge", ("tensorflow", "keras", "tf_keras"), "the device runtime never imports TensorFlow"),
    ("firmware_bridge", ("tensorflow", "keras", "tf_keras"), "the wire never imports TensorFlow"),
    ("clikit", ("tensorflow", "keras", "tf_keras"), "command-line plumbing never imports TensorFlow"),
    ("firmware_bridge.codec", ("firmware_bridge.host", "firmware_bridge.sim"),
     "the codec is shared by host and unit and depends on neither"),
    ("clikit", ("edge", "convert", "firmware_bridge"), "clikit sits below all three packages"),
]

#: (module, imported name): documented exceptions, each exact. ``edge.litert`` falls back to
#: ``tensorflow.lite`` only when neither ai_edge_litert nor tflite_runtime is installed (a training
#: machine; README, "the interpreter is found in one place").
ALLOWED = {("edge.litert", "tensorflow")}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every import in ``source`` (the module named ``module``).

    ``from a import b`` yields both ``a`` and ``a.b`` (``b`` may be a submodule).
    """
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*"]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__"):
                found.append((node.lineno, node.args[0].value))
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(root: Path = ROOT) -> list[str]:
    out = []
    for path in sorted(root.glob("*/**/*.py")):
        if path.relative_to(root).parts[0] not in ("edge", "convert", "firmware_bridge", "clikit"):
            continue
        module = _module_name(path, root)
        for line, name in imports_of(path.read_text(encoding="utf-8"), module, path.name == "__init__.py"):
            for owner, forbidden, why in RULES:
                if ((module, name) not in ALLOWED and _within(module, owner)
                        and any(_within(name, f) for f in forbidden)):
                    out.append(f"{path.relative_to(root)}:{line}: {module} imports {name} ({why})")
    return out


def test_packages_respect_the_layering():
    found = violations()
    assert not found, "layering violations:\n" + "\n".join(found)


def test_the_checker_sees_local_relative_and_dynamic_imports():
    src = ("import numpy\n"
           "def f():\n"
           "    import tensorflow as tf\n"
           "    from ..host import link\n"
           "    importlib.import_module('convert.train')\n")
    names = imports_of(src, "firmware_bridge.codec.frames")
    assert (3, "tensorflow") in names
    assert (4, "firmware_bridge.host.link") in names
    assert (5, "convert.train") in names
    assert imports_of("from . import cobs\n", "firmware_bridge.codec", is_package=True) == [
        (1, "firmware_bridge.codec"), (1, "firmware_bridge.codec.cobs")]


def test_a_violation_names_its_file_and_line(tmp_path):
    pkg = tmp_path / "firmware_bridge" / "codec"
    pkg.mkdir(parents=True)
    (pkg / "bad.py").write_text('"""x"""\n\ndef g():\n    from firmware_bridge.sim import faults\n')
    assert violations(tmp_path) == [
        "firmware_bridge/codec/bad.py:4: firmware_bridge.codec.bad imports firmware_bridge.sim "
        "(the codec is shared by host and unit and depends on neither)",
        "firmware_bridge/codec/bad.py:4: firmware_bridge.codec.bad imports firmware_bridge.sim.faults "
        "(the codec is shared by host and unit and depends on neither)"]
