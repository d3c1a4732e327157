"""Scripted language models for offline tests, examples and benchmarks.

A scripted LM is a real ``dspy.LM`` whose engine is a Python function instead of a provider: it is
built the way DSPy 3.4 asks for custom backends (an engine object with ``complete(Request)`` passed
to ``dspy.LM(engine=...)``, and its async counterpart as ``async_engine=``), so everything above the
engine — adapters, history, callbacks, usage tracking, retries, the async path of ``acall`` — is DSPy's
own code path. Scripted LMs pickle (when their ``respond`` function does), so they also run on Ray workers.

    >>> lm = scripted_lm(lambda call: {"answer": call.field("question").upper()})
    >>> with dspy.context(lm=lm):
    ...     dspy.Predict("question -> answer")(question="hi").answer
    'HI'
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dspy
from dspy.lm15 import ImagePart, Message, Request, Response, TextPart, Usage, response_to_events

__all__ = ["AsyncScriptedEngine", "ScriptedCall", "ScriptedEngine", "ScriptedReply", "scripted_lm", "chat_fields",
           "png", "png_data_uri", "png_color"]

_FIELD_HEADER = re.compile(r"\[\[ ## (\w+) ## \]\]\n(.*?)(?=\n\n\[\[ ## |\Z)", re.S)
# The closing paragraph DSPy's adapters append to the last user turn ("Respond with ...").
_TRAILER = re.compile(r"\n\nRespond with [^\n]*\Z")


@dataclass(frozen=True)
class ScriptedReply:
    """A reply with control over what the provider would report besides the text."""

    text: str
    finish_reason: str = "stop"
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass
class ScriptedCall:
    """What the scripted function sees of one LM request."""

    model: str
    system: str
    messages: list[tuple[str, str]]
    images: list[ImagePart]
    request: Request
    index: int

    @property
    def last_user_text(self) -> str:
        for role, text in reversed(self.messages):
            if role == "user":
                return text
        return ""

    @property
    def prompt(self) -> str:
        """System text and all message texts joined, for substring matching."""
        return "\n\n".join([self.system, *(text for _, text in self.messages)])

    def field(self, name: str, default: str | None = None) -> str | None:
        """The value of input field ``name`` as DSPy's chat/JSON adapters render it in the last user turn."""
        return chat_fields(self.last_user_text).get(name, default)

    @property
    def wants_json(self) -> bool:
        return "Outputs will be a JSON object" in self.system or self.request.config.response_format is not None


def chat_fields(text: str) -> dict[str, str]:
    """Parse ``[[ ## name ## ]]`` sections (DSPy's chat format) into a dict of stripped strings."""
    text = _TRAILER.sub("", text)
    return {m.group(1): m.group(2).strip() for m in _FIELD_HEADER.finditer(text)}


def _format_fields(fields: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(fields)
    parts = [f"[[ ## {k} ## ]]\n{v if isinstance(v, str) else json.dumps(v)}" for k, v in fields.items()]
    return "\n\n".join([*parts, "[[ ## completed ## ]]"])


def _part_text(part: Any) -> str:
    return getattr(part, "text", None) or ""


@dataclass
class ScriptedEngine:
    """A DSPy 3.4 engine whose completions come from ``respond(call)``.

    ``respond`` returns a ``str`` (the raw completion), a ``dict`` of output fields (formatted for
    the adapter that asked), a :class:`ScriptedReply`, or raises (e.g. ``dspy.lm15.RateLimitError``)
    to simulate a provider failure. ``latency`` seconds are slept per call (a float or a callable of
    the call). Token counts default to characters / 4, so usage is deterministic.
    """

    respond: Callable[[ScriptedCall], Any]
    model: str = "scripted"
    latency: float | Callable[[ScriptedCall], float] = 0.0
    calls: list[ScriptedCall] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """A copy in another process starts with no calls of its own (they stay where they were made)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_lock", "calls")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, calls=[])
        self.__post_init__()

    def complete(self, request: Request) -> Response:
        call, delay = self._start(request)
        if delay:
            time.sleep(delay)
        return self._reply(call)

    def _start(self, request: Request) -> tuple[ScriptedCall, float]:
        system = request.system if isinstance(request.system, str) else "".join(_part_text(p) for p in request.system or ())
        messages = [(m.role, "".join(_part_text(p) for p in m.parts)) for m in request.messages]
        images = [p for m in request.messages for p in m.parts if isinstance(p, ImagePart)]
        with self._lock:
            call = ScriptedCall(self.model, system, messages, images, request, len(self.calls))
            self.calls.append(call)
        return call, self.latency(call) if callable(self.latency) else self.latency

    def _reply(self, call: ScriptedCall) -> Response:
        reply = self.respond(call)
        if isinstance(reply, dict):
            reply = ScriptedReply(_format_fields(reply, call.wants_json))
        elif isinstance(reply, str):
            reply = ScriptedReply(reply)
        elif not isinstance(reply, ScriptedReply):
            raise TypeError(f"scripted respond() returned {type(reply).__name__}; expected str, dict or ScriptedReply")
        n_in = reply.input_tokens if reply.input_tokens is not None else max(1, len(call.prompt) // 4)
        n_out = reply.output_tokens if reply.output_tokens is not None else max(1, len(reply.text) // 4)
        return Response(
            id=f"scripted-{call.index}",
            model=self.model,
            message=Message.assistant((TextPart(reply.text),)),
            finish_reason=reply.finish_reason,
            usage=Usage(input_tokens=n_in, output_tokens=n_out, total_tokens=n_in + n_out),
        )

    def stream(self, request: Request):
        return response_to_events(self.complete(request))

    def close(self) -> None:
        pass


@dataclass
class AsyncScriptedEngine:
    """The async counterpart of a :class:`ScriptedEngine` (same function, same ``calls``): what DSPy's
    async path (``acall``) uses. Its latency is awaited, so many calls wait at once on one thread."""

    engine: ScriptedEngine

    async def complete(self, request: Request) -> Response:
        call, delay = self.engine._start(request)
        if delay:
            await asyncio.sleep(delay)
        return self.engine._reply(call)

    async def stream(self, request: Request):
        for event in response_to_events(await self.complete(request)):
            yield event

    async def aclose(self) -> None:
        pass


def scripted_lm(
    respond: Callable[[ScriptedCall], Any],
    model: str = "scripted/lm",
    *,
    latency: float | Callable[[ScriptedCall], float] = 0.0,
    cache: bool = False,
    num_retries: int = 0,
    **lm_kwargs: Any,
) -> dspy.LM:
    """A ``dspy.LM`` backed by :class:`ScriptedEngine`; its engine is reachable as ``lm.engine``.

    ``num_retries`` is DSPy's own: a retryable error raised by ``respond`` (``dspy.lm15.RateLimitError``,
    ``TimeoutError``, ``ServerError``) is retried that many times, after the error's ``retry_after`` seconds
    or DSPy's backoff (1, 2, 4, ... s). It defaults to 0 so a scripted failure reaches the caller at once."""
    engine = ScriptedEngine(respond, model=model.split("/", 1)[-1], latency=latency)
    return dspy.LM(model, engine=engine, async_engine=AsyncScriptedEngine(engine), cache=cache,
                   num_retries=num_retries, **lm_kwargs)


# ---------------------------------------------------------------------------- images

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(color: tuple[int, int, int], size: int = 2) -> bytes:
    """A ``size`` x ``size`` PNG of one RGB color, built in code (no Pillow, no files): images for offline tests."""
    if not all(isinstance(c, int) and 0 <= c <= 255 for c in color) or len(color) != 3:
        raise ValueError(f"color must be three integers in 0..255, not {color!r}")
    row = b"\x00" + bytes(color) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (_PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(row * size))
            + _chunk(b"IEND", b""))


def png_data_uri(color: tuple[int, int, int], size: int = 2) -> str:
    """:func:`png` as a ``data:image/png;base64,...`` URI, ready for ``dspy.Image(...)``."""
    return "data:image/png;base64," + base64.b64encode(png(color, size)).decode("ascii")


def png_color(image: Any) -> tuple[int, int, int]:
    """The RGB color of the first pixel of a PNG made by :func:`png`, so a scripted LM can "see" an image.

    ``image`` is PNG bytes, their base64 text, a data URI, or an image part / ``dspy.Image`` carrying one.
    """
    for attr in ("data", "url"):
        value = getattr(image, attr, None)
        if isinstance(value, str | bytes) and value:
            image = value
            break
    if isinstance(image, str):
        image = base64.b64decode(image.split(",", 1)[1] if image.startswith("data:") else image)
    if not isinstance(image, bytes) or not image.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG")
    pos, idat, header = len(_PNG_SIGNATURE), b"", None
    while pos + 8 <= len(image):
        length, kind = struct.unpack(">I4s", image[pos:pos + 8])
        data = image[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", data)
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    if header is None or header[2:4] != (8, 2):
        raise ValueError("only 8-bit RGB PNGs are supported")
    pixels = zlib.decompress(idat)
    if pixels[0] != 0:
        raise ValueError("only unfiltered PNG rows are supported")
    return pixels[1], pixels[2], pixels[3]
