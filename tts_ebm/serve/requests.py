"""What a client asks for, checked before any work: OpenAI's speech body and Piper's.

Every refusal is a ValueError with one line (the server answers it as HTTP 400). The toolkit's
knobs go through :func:`tts_ebm.sampling.check_knob` and :class:`SynthesisOptions`, the checks
the CLI uses; OpenAI's ``speed`` (> 1 faster) becomes the speaking rate 1/speed (> 1 slower)
and is checked as that knob too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tts_ebm.listening.server import parse_json_object
from tts_ebm.sampling import check_knob
from tts_ebm.schema import Float, Str
from tts_ebm.serve.encoding import check_format, supported_formats
from tts_ebm.synthesis import SynthesisOptions, Synthesizer

KNOB_FIELDS = ("steps", "step_size", "temperature", "langevin", "seed")
OPENAI_FIELDS = ("model", "input", "voice", "response_format", "speed", "stream_format")
IGNORED_FIELDS = ("instructions",)  # OpenAI's style prompt: this model takes none
STREAM_FORMATS = ("audio", "sse")
SPEED = Float(0.1, 10.0)


@dataclass(frozen=True)
class SpeechRequest:
    text: str
    voice: str
    options: SynthesisOptions
    response_format: str
    stream_format: str = "audio"


def default_format() -> str:
    """OpenAI's default, mp3, where this installation can encode it; wav otherwise."""
    return "mp3" if "mp3" in supported_formats() else "wav"


def check_text(text: object, max_chars: int, key: str = "input") -> str:
    """A non-empty string of at most ``max_chars`` characters (the front end judges the rest)."""
    if not isinstance(text, str):
        raise ValueError(f"{key} must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ValueError(f"{key} is empty")
    if len(text) > max_chars:
        raise ValueError(f"{key} has {len(text)} characters; this server takes at most {max_chars}")
    return text


def check_voice(voice: object, voices: Mapping[str, Synthesizer], default: str) -> str:
    if voice is None:
        return default
    if not isinstance(voice, str) or voice not in voices:
        shown = voice if isinstance(voice, str) else type(voice).__name__
        raise ValueError(f"unknown voice {shown!r}; voices: {', '.join(voices)}")
    return str(voice)


def knob_options(synth: Synthesizer, knobs: Mapping[str, object]) -> SynthesisOptions:
    """The voice's defaults with the given knobs, each checked against KNOBS."""
    given = {}
    for name, value in knobs.items():
        if value is None:
            continue
        check_knob(name, value)
        given[name] = tuple(value) if isinstance(value, list) else value
    return synth.options(**given)  # the rules between knobs


def speaking_rate(speed: object) -> float:
    SPEED.check(speed, "speed")
    rate = 1.0 / float(speed)
    check_knob("speaking_rate", rate)
    return rate


def parse_speech(
    raw: bytes, voices: Mapping[str, Synthesizer], default: str, max_chars: int
) -> SpeechRequest:
    """``POST /v1/audio/speech``'s body, OpenAI's fields plus :data:`KNOB_FIELDS`."""
    body = parse_json_object(raw)
    unknown = sorted(set(body) - set(OPENAI_FIELDS) - set(KNOB_FIELDS) - set(IGNORED_FIELDS))
    if unknown:
        raise ValueError(
            f"unknown field {unknown[0]!r}; fields: {', '.join(OPENAI_FIELDS + KNOB_FIELDS)}"
        )
    if "input" not in body:
        raise ValueError("input is missing")
    if "model" in body:
        Str().check(body["model"], "model")
    text = check_text(body["input"], max_chars)
    voice = check_voice(body.get("voice"), voices, default)
    fmt = check_format(body.get("response_format", default_format()))
    stream = body.get("stream_format", "audio")
    Str(STREAM_FORMATS).check(stream, "stream_format")
    knobs = {name: body.get(name) for name in KNOB_FIELDS}
    if body.get("speed") is not None:
        knobs["speaking_rate"] = speaking_rate(body["speed"])
    return SpeechRequest(text, voice, knob_options(voices[voice], knobs), fmt, stream)


def parse_piper(
    raw: bytes, content_type: str, voices: Mapping[str, Synthesizer], default: str, max_chars: int
) -> tuple[str, str, SynthesisOptions]:
    """Piper's ``POST /``: the text as the body, or (piper1's newer server) a JSON object with
    ``text``, optional ``voice`` and ``length_scale`` (> 1 slower: our speaking rate)."""
    if content_type.split(";")[0].strip() == "application/json":
        body = parse_json_object(raw)
        voice = check_voice(body.get("voice"), voices, default)
        knobs = {"speaking_rate": body.get("length_scale")}
        text = check_text(body.get("text"), max_chars, "text")
        return text, voice, knob_options(voices[voice], knobs)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the text is not UTF-8") from None
    return check_text(text, max_chars, "text"), default, voices[default].defaults
