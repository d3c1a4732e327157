import base64
import struct
import zlib

import dspy
import pytest

from dspy_gepa.testing import ScriptedReply, chat_fields, png, png_color, png_data_uri, scripted_lm


def test_scripted_lm_answers_through_chat_and_json_adapters():
    lm = scripted_lm(lambda call: {"answer": call.field("question").upper()})
    with dspy.context(lm=lm):
        assert dspy.Predict("question -> answer")(question="hi").answer == "HI"
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        assert dspy.Predict("question -> answer")(question="yo").answer == "YO"
    assert len(lm.engine.calls) == 2


def test_scripted_reply_reports_usage_and_finish_reason():
    lm = scripted_lm(lambda call: ScriptedReply("[[ ## answer ## ]]\nx", finish_reason="length", output_tokens=7))
    with dspy.context(lm=lm):
        dspy.Predict("question -> answer")(question="q")
    entry = lm.history[-1]
    assert entry["response"].finish_reason == "length"
    assert entry["usage"]["completion_tokens"] == 7


def test_chat_fields_parses_sections_and_drops_trailer():
    text = "[[ ## a ## ]]\none\n\n[[ ## b ## ]]\ntwo\nlines\n\nRespond with the fields."
    assert chat_fields(text) == {"a": "one", "b": "two\nlines"}


def test_png_is_a_valid_png_of_one_color():
    data = png((10, 20, 30), size=3)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos = 8
    kinds = []
    while pos < len(data):  # every chunk's CRC is right, so real decoders accept it
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + body)
        kinds.append(kind)
        pos += 12 + length
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">II", data[16:24]) == (3, 3)
    assert zlib.decompress(data[41:41 + struct.unpack(">I", data[33:37])[0]]) == (b"\x00" + bytes((10, 20, 30)) * 3) * 3


def test_png_color_reads_what_png_wrote_from_bytes_uris_images_and_parts():
    uri = png_data_uri((200, 0, 7), size=2)
    assert uri.startswith("data:image/png;base64,")
    assert png_color(png((200, 0, 7))) == png_color(uri) == png_color(dspy.Image(uri)) == (200, 0, 7)
    assert png_color(base64.b64encode(png((1, 2, 3))).decode()) == (1, 2, 3)
    lm = scripted_lm(lambda call: {"color": str(png_color(call.images[0]))})
    with dspy.context(lm=lm):
        assert dspy.Predict("image: dspy.Image -> color")(image=dspy.Image(uri)).color == "(200, 0, 7)"
    with pytest.raises(ValueError, match="not a PNG"):
        png_color(b"GIF89a")
    with pytest.raises(ValueError, match="three integers"):
        png((256, 0, 0))
