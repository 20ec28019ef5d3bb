"""The one place that finds a TFLite interpreter.

Order: ``ai_edge_litert`` (maintained; numpy 2 OK) → ``tflite_runtime`` (last release 2.14,
breaks under numpy 2, only for 32-bit Pi OS) → ``tensorflow.lite`` (training machines only;
TensorFlow is never imported unless both runtimes are missing).
See ../shared/reference/edge-pipelines.md §5.
"""

from __future__ import annotations

import importlib
from typing import Any


class NoInterpreterError(ImportError):
    """No TFLite interpreter package is installed."""


def _load() -> tuple[str, Any, Any]:
    try:
        mod = importlib.import_module("ai_edge_litert.interpreter")
        return "ai_edge_litert", mod.Interpreter, getattr(mod, "OpResolverType", None)
    except ImportError:
        pass
    try:
        mod = importlib.import_module("tflite_runtime.interpreter")
        return "tflite_runtime", mod.Interpreter, getattr(mod, "OpResolverType", None)
    except ImportError:
        pass
    try:
        tf = importlib.import_module("tensorflow")
        return "tensorflow.lite", tf.lite.Interpreter, getattr(tf.lite.experimental, "OpResolverType", None)
    except ImportError as exc:
        raise NoInterpreterError(
            "no TFLite interpreter: install ai-edge-litert (pip install ai-edge-litert)"
        ) from exc


_CACHE: tuple[str, Any, Any] | None = None


def backend() -> str:
    """Name of the interpreter package in use."""
    return _get()[0]


def _get() -> tuple[str, Any, Any]:
    global _CACHE
    if _CACHE is None:
        _CACHE = _load()
    return _CACHE


def make_interpreter(
    model_path: str | None = None,
    model_content: bytes | None = None,
    num_threads: int = 1,
    xnnpack: bool = False,
) -> Any:
    """Create and allocate an interpreter.

    ``xnnpack=False`` (default) uses the built-in kernels without default delegates: these are
    bit-exact with the reference kernels, which golden tests rely on. XNNPACK is faster but
    differs by a few int8 LSB (edge-pipelines.md §5). One thread by default: more threads are
    slower for models this small.
    """
    _, interpreter_cls, resolver = _get()
    kwargs: dict[str, Any] = {"num_threads": int(num_threads)}
    if model_path is not None:
        kwargs["model_path"] = str(model_path)
    else:
        kwargs["model_content"] = model_content
    if not xnnpack and resolver is not None:
        kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = interpreter_cls(**kwargs)
    interp.allocate_tensors()
    return interp
