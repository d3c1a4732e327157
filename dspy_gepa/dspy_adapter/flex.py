"""``dspy.Flex`` submodules: code components, optimized beside the predictors' instructions.

A ``dspy.Flex`` holds its implementation as source code (``module_src``: one ``dspy.Module`` class that
runs in an interpreter). GEPA treats each Flex of a program as one component, keyed by its path in
``named_parameters()``, whose text is that source, as ``dspy.GEPA`` does; the predictors the code creates
are not components of their own (``Flex.named_predictors()`` is empty). A candidate's source is bound to
the Flex when the program is built; source that does not bind scores as a failure on every example, never
stops the run. Reflection on a code component reads whole-program records (the example's inputs, the
program's outputs or the error it raised, and the metric's feedback), not a predictor's trace.
"""

from __future__ import annotations

from typing import Any

import dspy

from dspy_gepa.dspy_adapter.reflective import ReflectionLimits, cut, reflect_value
from dspy_gepa.dspy_adapter.trace import Trajectory

try:
    from dspy.predict.flex import Flex
    from dspy.primitives.code_interpreter import CodeInterpreterError
except ImportError:  # pragma: no cover - a DSPy without dspy.Flex
    Flex = None
    CodeInterpreterError = SyntaxError

#: What binding a candidate's source may raise because of the source itself (anything else propagates).
BIND_ERRORS: tuple[type[BaseException], ...] = (SyntaxError, CodeInterpreterError)


def flex_parts(program: dspy.Module) -> dict[str, Any]:
    """Path -> ``dspy.Flex`` for every Flex submodule of ``program`` (``"self"`` when it is one)."""
    if Flex is None:
        return {}
    return {name: sub for name, sub in program.named_parameters() if isinstance(sub, Flex)}


def bind(program: dspy.Module, candidate: dict[str, str]) -> None:
    """Give each Flex of ``program`` named in ``candidate`` that source (raises one of ``BIND_ERRORS``
    when the source itself is unusable)."""
    for path, flex in flex_parts(program).items():
        if path in candidate and candidate[path] != flex.module_src:
            flex._bind_code(candidate[path])  # the binding hook dspy.GEPA uses; it checks the source


def task_context(program: dspy.Module) -> tuple[dict[str, str], dict[str, str]]:
    """Per Flex path, its task (rendered signature) and what it may use (tools, sandbox notes): what a
    code proposer is shown."""
    tasks, contexts = {}, {}
    for path, flex in flex_parts(program).items():
        ctx = getattr(flex, "_flex_ctx", None)
        if ctx is not None:
            tasks[path] = ctx.render_signature_spec()
            contexts[path] = ctx.render_context_blurb(sandboxed=True)
    return tasks, contexts


def code_record(trajectory: Trajectory, feedback: str, limits: ReflectionLimits) -> dict[str, Any]:
    """One whole-program record for reflecting on a code component."""
    example = trajectory.example
    inputs = {k: reflect_value(v, limits) for k, v in (example.inputs().items() if example is not None else [])}
    if trajectory.prediction is None:
        outputs: Any = cut(f"The program raised an error: {trajectory.error}", limits.max_chars)
    else:
        outputs = {k: reflect_value(v, limits) for k, v in trajectory.prediction.items()}
    return {"Inputs": inputs, "Generated Outputs": outputs, "Feedback": cut(feedback, limits.max_chars)}
