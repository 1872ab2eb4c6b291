"""Metrics written in Python (`{name, file, function}`), imported when the run starts.

A file that cannot be imported or a missing function is a `MetricError` located at the
metric's entry in the spec; an exception inside the metric or a value that is not a number is a
`MetricError` naming that entry's path (located at the API boundary).
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np

from pknet.compiler.located import spec_problem
from pknet.errors import MetricError, Problem
from pknet.specs import Spec
from pknet.specs.schema.evaluate import PythonMetricSpec
from pknet.suggest import closest

MetricFn = Callable[[np.ndarray, np.ndarray, str], float]


def load_metric(spec: Spec, index: int, metric: PythonMetricSpec) -> MetricFn:
    """The function of `spec.evaluate.metrics[index]`, guarded against failing."""
    return _guarded(metric.name, f"evaluate.metrics[{index}]", _load(spec, index, metric))


def _import(spec: Spec, index: int, path: Path) -> ModuleType:
    """The module in `path`, freshly executed (registered under a name unique to the path)."""
    name = "pknet_user_metrics_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise MetricError(
            spec_problem(
                spec,
                ("evaluate", "metrics", index, "file"),
                f"{path.name} is not a Python file",
                "name a `.py` file",
            )
        )
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    try:
        module_spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # anything the file raises on import, exit() too
        sys.modules.pop(name, None)
        raise MetricError(
            spec_problem(
                spec,
                ("evaluate", "metrics", index, "file"),
                f"importing {path.name} failed: {type(exc).__name__}: {exc}",
                "fix the file so that `python " + path.name + "` runs",
            )
        ) from None
    return module


def _load(spec: Spec, index: int, metric: PythonMetricSpec) -> MetricFn:
    module = _import(spec, index, Path(metric.file))
    fn = getattr(module, metric.function_name, None)
    if not callable(fn):
        functions = [n for n, v in inspect.getmembers(module, inspect.isfunction)]
        close = closest(metric.function_name, functions)
        field = "function" if metric.function is not None else "name"
        raise MetricError(
            spec_problem(
                spec,
                ("evaluate", "metrics", index, field),
                f"{Path(metric.file).name} defines no function `{metric.function_name}`",
                (f"did you mean `{close[0]}`? " if close else "")
                + f"functions: {', '.join(f'`{f}`' for f in functions) or 'none'}",
            )
        )
    return fn


def _guarded(name: str, path: str, fn: MetricFn) -> MetricFn:
    """`fn`, with its exceptions and non-numeric results turned into a `MetricError` at `path`."""

    def metric(y_true: np.ndarray, y_score: np.ndarray, task: str) -> float:
        try:
            value = fn(y_true, y_score, task)
        except (Exception, SystemExit) as exc:  # user code failing, or calling exit(), is reported
            raise MetricError(
                Problem(
                    f"metric `{name}` raised {type(exc).__name__}: {exc}",
                    path=path,
                    hint="it is called as `fn(y_true, y_score, task)` with NumPy arrays of one "
                    "task's true values and scores, and returns a number",
                )
            ) from None
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise MetricError(
                Problem(
                    f"metric `{name}` returned {type(value).__name__} {value!r}, not a number",
                    path=path,
                    hint="return a float (NaN where the metric is undefined)",
                )
            )
        return float(value)

    return metric
