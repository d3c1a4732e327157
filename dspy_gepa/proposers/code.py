"""The default proposer for ``dspy.Flex`` code components.

A ``dspy.Flex`` submodule's implementation is a whole ``dspy.Module`` class in source form
(``module_src``); GEPA optimizes it as one component, keyed by the submodule's path, beside the
instructions of the program's other predictors. This proposer shows the reflection LM the submodule's
task (its signature), what it may use (its tools, and DSPy's catalog of the primitives Flex code may
call), the current source and the examples where the program did badly, and asks for the complete
revised class. A reply that is cut off, empty, not Python or without a ``dspy.Module`` class with a
``forward`` raises :class:`~dspy_gepa.exceptions.UnusableProposalError`, so it is never adopted.

A custom ``code_proposer`` has the same call signature as ``dspy.GEPA``'s: ``(candidate,
reflective_dataset, components_to_update, task_descriptions, context_blurbs) -> {path: source}``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from typing import Any

import dspy
from dspy.utils.exceptions import AdapterParseError

from dspy_gepa.exceptions import UnusableProposalError
from dspy_gepa.lms import record_lm_calls


class ReviseModuleSource(dspy.Signature):
    """You are improving the implementation of one module of an AI system. The module is a single Python
    class deriving from dspy.Module: an __init__ that creates the predictors it uses, and a forward(self,
    **inputs) that calls them and returns a dspy.Prediction with the output fields of its task.

    Study the examples where the system did badly and the feedback on them. Decide whether the fault lies
    in what a predictor was told (then rewrite its instructions, given as dspy.Signature("inputs ->
    outputs", "instructions")) or in how the steps are put together (then change the code: add or split
    steps, handle cases in plain Python, call a listed tool). Use only the primitives of the catalog and
    the tools named in the available context; keep __init__ and forward consistent with each other.

    Reply with the complete source of the revised class, nothing else."""

    task_description: str = dspy.InputField(desc="The module's task: its signature, objective, inputs and outputs.")
    available_context: str = dspy.InputField(desc="Tools the module may call by name, and notes on where it runs.")
    primitives_catalog: str = dspy.InputField(desc="The primitives the module's code may use, and how.")
    current_source: str = dspy.InputField(desc="The module's current source code.")
    failures: str = dspy.InputField(desc="Examples where the system did badly: inputs, outputs, feedback.")
    revised_source: str = dspy.OutputField(desc="The complete revised source: one dspy.Module subclass.")


_FENCE = re.compile(r"^```[\w-]*\n(.*?)\n?```\s*$", re.S)


def primitives_catalog() -> str:
    """DSPy's own description of what Flex code may use (empty for a DSPy without one)."""
    try:
        from dspy.predict.flex.primitives_doc import PRIMITIVES_CATALOG
    except ImportError:  # pragma: no cover - DSPy without dspy.Flex
        return ""
    return PRIMITIVES_CATALOG


def render_failures(records: Sequence[Mapping[str, Any]]) -> str:
    if not records:
        return "(no examples)"
    return "\n\n".join(f"Example {i}\nInputs: {r.get('Inputs')}\nOutputs: {r.get('Generated Outputs')}\n"
                       f"Feedback: {r.get('Feedback')}" for i, r in enumerate(records, 1))


def clean_source(text: Any) -> str:
    """The source in a reply: without a Markdown fence, tabs as spaces; checked to be a module class."""
    source = str(text or "").strip()
    fenced = _FENCE.match(source)
    if fenced:
        source = fenced.group(1)
    source = source.strip().expandtabs(4)
    if not source:
        raise UnusableProposalError("the reflection LM returned no source code")
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise UnusableProposalError(f"the proposed source is not valid Python: {exc}") from exc
    if not any(isinstance(node, ast.ClassDef) and any(isinstance(b, ast.FunctionDef) and b.name == "forward"
                                                       for b in node.body) for node in tree.body):
        raise UnusableProposalError("the proposed source defines no class with a forward method")
    return source


class CodeProposer:
    """Rewrites the source of ``dspy.Flex`` components with the reflection LM (DSPy's current LM)."""

    def __call__(self, candidate: dict[str, str], reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]],
                 components_to_update: list[str], task_descriptions: Mapping[str, str],
                 context_blurbs: Mapping[str, str]) -> dict[str, str]:
        return {path: self.propose_one(path, candidate[path], reflective_dataset.get(path, []),
                                       task_descriptions.get(path, path), context_blurbs.get(path, ""))
                for path in components_to_update}

    def propose_one(self, path: str, source: str, records: Sequence[Mapping[str, Any]], task: str,
                    context: str) -> str:
        with record_lm_calls() as calls:
            try:
                reply = dspy.Predict(ReviseModuleSource)(
                    task_description=task, available_context=context or "(no extra context)",
                    primitives_catalog=primitives_catalog(), current_source=source,
                    failures=render_failures(records))
            except AdapterParseError as exc:
                raise UnusableProposalError(f"the reflection LM's reply for {path} could not be parsed: {exc}") from exc
        if "length" in calls.finish_reasons():
            raise UnusableProposalError(f"the reflection LM's reply for {path} was cut off by its token limit "
                                        "(finish_reason='length'); give the reflection LM a larger max_tokens")
        return clean_source(reply.revised_source)
