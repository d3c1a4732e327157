"""A DSPy adapter for very small LMs: short prompts and grammar-constrained JSON replies.

DSPy's ChatAdapter and JSONAdapter describe every field and the reply format at length in the system
message. Measured with SmolLM2-135M-Instruct (see docs/demo.md), that long preamble buries the
instruction: ChatAdapter replies parse for almost no call, and JSONAdapter replies that do parse often
copy the ``{field}`` placeholders of the preamble. :class:`CompactJSONAdapter` sends

* system: the signature's instructions, then one line naming the JSON fields to reply with;
* user: one ``name: value`` line per input field;

and asks the server to constrain decoding to a JSON schema of the output fields, so every reply parses
and ``Literal`` fields can only take their allowed values. It is an ordinary ``dspy.Adapter``
(``dspy.configure(adapter=CompactJSONAdapter())``), parsing replies as ``dspy.JSONAdapter`` does.

The schema is sent in the dialect the server understands (``schema_dialect``):

* ``"llama.cpp"`` (default): ``{"type": "json_object", "schema": ...}``, which llama-cpp-python's server
  turns into a grammar; it rejects OpenAI's ``json_schema`` type.
* ``"openai"``: ``{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}``.
* ``None``: no ``response_format``; the prompt alone asks for JSON.

``only_for`` limits the adapter to some LMs: calls to any other LM go to ``other`` (default
``dspy.ChatAdapter()``), so a program can mix a small local model with a capable provider under one
``dspy.context(adapter=...)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

import dspy
import pydantic
from dspy.adapters.utils import format_field_value, serialize_for_json

__all__ = ["CompactJSONAdapter", "output_json_schema"]

SchemaDialect = Literal["llama.cpp", "openai"]


def output_json_schema(signature: type[dspy.Signature]) -> dict[str, Any]:
    """A JSON schema of ``signature``'s output fields: all required, no others, in declaration order."""
    fields = {name: (info.annotation, ...) for name, info in signature.output_fields.items()}
    model = pydantic.create_model("Outputs", __config__=pydantic.ConfigDict(extra="forbid"), **fields)
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    schema["required"] = list(signature.output_fields)
    return schema


def _describe_type(annotation: Any) -> str:
    args = getattr(annotation, "__args__", None)
    if getattr(annotation, "__origin__", None) is Literal and args:
        return " (one of: " + ", ".join(str(a) for a in args) + ")"
    return ""


class CompactJSONAdapter(dspy.JSONAdapter):
    """Short prompts and schema-constrained JSON replies, for small local LMs (see the module docstring)."""

    def __init__(
        self,
        schema_dialect: SchemaDialect | None = "llama.cpp",
        callbacks: list[Any] | None = None,
        *,
        only_for: Iterable[Any] | None = None,
        other: dspy.Adapter | None = None,
    ):
        if schema_dialect not in ("llama.cpp", "openai", None):
            raise ValueError(f"schema_dialect must be 'llama.cpp', 'openai' or None, not {schema_dialect!r}")
        super().__init__(callbacks=callbacks, use_native_function_calling=False)
        self.schema_dialect = schema_dialect
        self.only_for = None if only_for is None else list(only_for)
        self.other = other if other is not None else dspy.ChatAdapter()

    def _handles(self, lm: Any) -> bool:
        return self.only_for is None or any(lm is mine for mine in self.only_for)

    def __call__(self, lm, lm_kwargs, signature, demos, inputs):
        if not self._handles(lm):
            return self.other(lm, lm_kwargs, signature, demos, inputs)
        return super().__call__(lm, lm_kwargs, signature, demos, inputs)

    async def acall(self, lm, lm_kwargs, signature, demos, inputs):
        if not self._handles(lm):
            return await self.other.acall(lm, lm_kwargs, signature, demos, inputs)
        return await super().acall(lm, lm_kwargs, signature, demos, inputs)

    def response_format(self, signature: type[dspy.Signature]) -> dict[str, Any] | None:
        """The ``response_format`` sent with each call, or None."""
        if self.schema_dialect is None:
            return None
        schema = output_json_schema(signature)
        if self.schema_dialect == "llama.cpp":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "outputs", "schema": schema, "strict": True}}

    # JSONAdapter calls this hook before every call (sync and async) to choose the response format.
    def _prepare_response_format(self, lm: Any, lm_kwargs: dict[str, Any], signature: type[dspy.Signature]) -> None:
        response_format = self.response_format(signature)
        if response_format is not None:
            lm_kwargs["response_format"] = response_format

    def format_system_message(self, signature: type[dspy.Signature]) -> str:
        fields = ", ".join(f"`{name}`{_describe_type(info.annotation)}" for name, info in signature.output_fields.items())
        return f"{signature.instructions.strip()}\nReply with a JSON object with the fields: {fields}."

    def format_user_message_content(
        self,
        signature: type[dspy.Signature],
        inputs: dict[str, Any],
        prefix: str = "",
        suffix: str = "",
        main_request: bool = False,
    ) -> str:
        lines = [prefix] if prefix else []
        for name, info in signature.input_fields.items():
            if name in inputs:
                lines.append(f"{name}: {format_field_value(field_info=info, value=inputs[name])}")
        if suffix:
            lines.append(suffix)
        return "\n".join(lines).strip()

    def format_assistant_message_content(
        self,
        signature: type[dspy.Signature],
        outputs: dict[str, Any],
        missing_field_message: str | None = None,
    ) -> str:
        values = {name: outputs.get(name, missing_field_message) for name in signature.output_fields}
        return json.dumps(serialize_for_json(values), ensure_ascii=False)
