"""Tests for the English text front end: normalisation, sentence splitting, espeak IPA,
symbol tables, tokenizer and the TextFrontend config round trip."""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import re
import time

import pytest

from tts_ebm.text import (
    CHARS_V1,
    IPA_V1,
    CharacterPhonemizer,
    EmptyTextError,
    EspeakPhonemizer,
    Phonemizer,
    SymbolTable,
    TextFrontend,
    Tokenizer,
    make_phonemizer,
    normalize_text,
    number_to_words,
    ordinal_to_words,
    split_sentences,
    symbol_table,
    year_to_words,
)

SENTENCE = "Dr. Smith paid $42.50 on Jan. 3rd, 2024."
# sha256 prefix of the published IPA v1 symbol list: it must never change.
IPA_V1_DIGEST = "9871c967f4910737"


@pytest.fixture(scope="module")
def ipa() -> TextFrontend:
    return TextFrontend("ipa", add_blank=True)


# ---------------------------------------------------------------------------------------------
# Normalisation


def test_reference_sentence() -> None:
    out = normalize_text(SENTENCE)
    for words in ("Doctor", "forty two dollars", "fifty cents", "January", "third"):
        assert words in out
    assert "twenty twenty four" in out
    assert not re.search(r"\d", out)
    assert out == (
        "Doctor Smith paid forty two dollars and fifty cents on January third, twenty twenty four."
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", "forty two"),
        ("0", "zero"),
        ("-5 degrees", "minus five degrees"),
        ("3.14", "three point one four"),
        ("1,234,567", "one million two hundred thirty four thousand five hundred sixty seven"),
        ("3rd and 21st and 100th", "third and twenty first and one hundredth"),
        ("1984", "nineteen eighty four"),
        ("2024", "twenty twenty four"),
        ("2005", "two thousand five"),
        ("1900 and 1905", "nineteen hundred and nineteen oh five"),
        ("$42.50", "forty two dollars and fifty cents"),
        ("$1", "one dollar"),
        ("$0.05", "five cents"),
        ("£3", "three pounds"),
        ("€2.99", "two euros and ninety nine cents"),
        ("$1 million", "one million dollars"),
        ("$2.5bn", "two point five billion dollars"),
        ("50% and 3.5%", "fifty percent and three point five percent"),
        ("at 3:30 pm", "at three thirty P-M"),
        ("10:05", "ten oh five"),
        ("10:00", "ten o'clock"),
        ("Mr. and Mrs. Jones met Ms. Lee.", "Mister and Missus Jones met Miz Lee."),
        ("Capt. Gen. Lt. Col. Sgt. Rev.", "Captain General Lieutenant Colonel Sergeant Reverend"),
        ("Smith Jr. of Acme Co. Ltd.", "Smith Junior of Acme Company Limited."),
        ("No. 5 vs. No. 6, etc.", "Number five versus Number six, et cetera."),
        ("He said no.", "He said no."),
        ("St. Louis is on Main St. now", "Saint Louis is on Main Street now"),
        ("Wed., Feb. 14", "Wednesday, February fourteenth"),
        ("Sept. 11th, 2001", "September eleventh, two thousand one"),
        ("the 1980s", "the nineteen eighties"),
        ("the U.S. Army", "the U-S Army"),
        ("John F. Kennedy", "John F Kennedy"),
        ("A. J. Hidell at 7 a.m. The end", "A. J Hidell at seven A-M. The end"),
        ("COVID-19 in 1914-1918", "COVID-nineteen in nineteen fourteen to nineteen eighteen"),
        ("“Quoted” — ‘single’ – dash…", "\"Quoted\" - 'single' - dash..."),
        ("café naïve", "café naïve"),
        ("Hello (world) & you!", "Hello, world, and you!"),
        ("a   b\t\nc", "a b c"),
        ("ｆｕｌｌ ｗｉｄｔｈ", "full width"),
        ("Look 🙂 here * now", "Look here now"),
        ("It's the dogs' bowl.", "It's the dogs' bowl."),
    ],
)
def test_normalize_exact(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


def test_normalize_keeps_case_and_only_speakable_characters() -> None:
    out = normalize_text("The BBC's <b>News</b> at #10 ~ 100°F, ©2020 [sic] | done;")
    assert out == (
        "The BBC's News at number ten one hundred degrees Fahrenheit, twenty twenty, sic, done;"
    )
    assert re.fullmatch(r"[A-Za-z ,.!?;:\-'\"]*", normalize_text("¶ ❤ ∑ ✓ x² €€ ½ ™ 日本 —"))


def test_number_words() -> None:
    assert number_to_words(1_000_000_001) == "one billion one"
    assert number_to_words(-112) == "minus one hundred twelve"
    assert ordinal_to_words(12) == "twelfth"
    assert ordinal_to_words(40) == "fortieth"
    assert year_to_words(2010) == "twenty ten"
    assert year_to_words(2000) == "two thousand"


@pytest.mark.parametrize("text", ["", "   ", "🙂🙂", "...", "\u200b"])
def test_normalize_unspeakable_is_empty(text: str) -> None:
    assert normalize_text(text) == ""


# ---------------------------------------------------------------------------------------------
# Sentence splitting


def test_split_sentences_abbreviations_and_decimals() -> None:
    text = (
        "Dr. Smith arrived at 3.14 p.m. sharp. Mr. J. R. Jones said hi! Did he? "
        "Yes... the U.S. Army came. Apple Inc. was there."
    )
    assert split_sentences(text) == [
        "Dr. Smith arrived at 3.14 p.m. sharp.",
        "Mr. J. R. Jones said hi!",
        "Did he?",
        "Yes...",
        "the U.S. Army came.",
        "Apple Inc. was there.",
    ]


def test_split_sentences_on_normalised_text() -> None:
    assert split_sentences(normalize_text(SENTENCE + " It was 3.5 km away.")) == [
        normalize_text(SENTENCE),
        "It was three point five kilometers away.",
    ]


@pytest.mark.parametrize("unit", ["word, ", "word ", "verylongword; "])
def test_split_long_sentences(unit: str) -> None:
    text = unit * 300 + "end."
    chunks = split_sentences(text)
    assert len(chunks) > 1
    assert all(0 < len(c) <= 300 for c in chunks)
    assert " ".join(chunks).split() == text.split()


def test_split_unbroken_text() -> None:
    chunks = split_sentences("a" * 700)
    assert [len(c) for c in chunks] == [300, 300, 100]


# ---------------------------------------------------------------------------------------------
# Phonemisers


def test_ipa_sentence(ipa: TextFrontend) -> None:
    out = ipa.process(SENTENCE)
    assert "ˈ" in out.phonemes
    assert not re.search(r"\d", out.phonemes)
    assert out.phonemes.startswith("dˈɑːktɚ smˈɪθ")
    assert out.phonemes.endswith(".")
    assert "," in out.phonemes
    assert set(out.phonemes) <= set(IPA_V1.symbols)


def test_ipa_symbols_cover_varied_english(ipa: TextFrontend) -> None:
    # Glottal stop + syllabic n (button), x (Bach), ɬ (Llanelli), nasal vowel (croissant).
    texts = [
        "The button and the cotton kitten, by Bach, in Llanelli, with a croissant.",
        "Measure the rhythm of church bells; thirty thousand nurses hurried - quietly!",
        'Did you hear "Oh, no," from the bird\'s nest?',
    ]
    phones = ipa.phonemizer(texts)
    assert set("ʔ\u0329xɬ\u0303") <= set("".join(phones))
    assert set("".join(phones)) <= set(IPA_V1.symbols)
    assert " - " in phones[1]
    assert '"' in phones[2]


def test_espeak_batch_matches_single_calls() -> None:
    phonemizer = EspeakPhonemizer()
    texts = ["Hello, world.", "", "🙂", "How are you?", "Fine; thanks: really!"]
    batch = phonemizer(texts)
    assert batch[1] == batch[2] == ""
    assert batch == [phonemizer([t])[0] for t in texts]


def test_phonemizer_protocol_and_factory() -> None:
    assert isinstance(make_phonemizer("ipa"), EspeakPhonemizer)
    assert isinstance(make_phonemizer("chars"), CharacterPhonemizer)
    assert isinstance(make_phonemizer("chars"), Phonemizer)
    with pytest.raises(ValueError, match="ipa, chars"):
        make_phonemizer("arpabet")


def test_long_text_is_fast(ipa: TextFrontend) -> None:
    paragraph = (
        "On Jan. 3rd, 2024, Dr. Smith paid $42.50 for 3 books at 10:05 am. "
        "The committee, which met in 1984, approved 1,250 new rules; nobody objected! "
        'Was it really 3.14 percent? "Perhaps," said Mrs. Jones - the treasurer. '
    )
    text = paragraph * (10_000 // len(paragraph.split()) + 1)
    start = time.perf_counter()
    out = ipa.process(text)
    elapsed = time.perf_counter() - start
    assert elapsed < 20
    n_words = len(out.normalized.split())
    assert n_words > 10_000
    # espeak may merge function words ("ɔnðə"), but never loses more than a fraction.
    assert 0.8 * n_words < len(out.phonemes.split()) <= n_words
    assert 4 * n_words < len(out.phonemes) < 12 * n_words


# ---------------------------------------------------------------------------------------------
# Symbol tables and tokenizer


def test_symbol_tables_are_fixed() -> None:
    for table in (IPA_V1, CHARS_V1):
        assert table.symbols[:3] == ("_", "<blk>", " ")
        assert table.id_of["_"] == 0 and table.id_of["<blk>"] == 1
        assert len(set(table.symbols)) == len(table)
    assert CHARS_V1.symbols == ("_", "<blk>", " ", *"!'\",-.:;?", *"abcdefghijklmnopqrstuvwxyz")
    # Published tables never change: a new symbol means a new version, not an edit.
    digest = hashlib.sha256("\n".join(IPA_V1.symbols).encode()).hexdigest()
    assert (len(IPA_V1), digest[:16]) == (128, IPA_V1_DIGEST)
    for symbol in ("ˈ", "ˌ", "ː", "ɚ", "ɝ", "ᵻ", "\u0361", "ɡ", "ʔ", "\u0329", "ɾ", "ɐ"):
        assert symbol in IPA_V1.id_of


def test_symbol_table_dict_round_trip_and_lookup() -> None:
    d = json.loads(json.dumps(IPA_V1.to_dict()))
    assert SymbolTable.from_dict(d) == IPA_V1
    assert symbol_table("ipa") is IPA_V1
    assert symbol_table("chars", 1) is CHARS_V1
    with pytest.raises(KeyError, match="no version 9"):
        symbol_table("ipa", 9)
    with pytest.raises(KeyError, match="unknown symbol table"):
        symbol_table("klingon")
    with pytest.raises(ValueError, match="must start with"):
        SymbolTable("bad", 1, (" ", "_", "<blk>"))
    with pytest.raises(ValueError, match="repeats"):
        SymbolTable("bad", 1, ("_", "<blk>", "a", "a"))


def test_blank_interspersing() -> None:
    a, b = IPA_V1.id_of["a"], IPA_V1.id_of["b"]
    assert Tokenizer(IPA_V1, add_blank=True).encode("ab") == [1, a, 1, b, 1]
    assert Tokenizer(IPA_V1).encode("ab") == [a, b]
    assert Tokenizer(IPA_V1).vocab_size == len(IPA_V1.symbols)


@pytest.mark.parametrize("add_blank", [False, True])
def test_encode_decode_round_trip(add_blank: bool) -> None:
    phonemes = "dˈɑːktɚ smˈɪθ, ɡˈʌʔn̩!"
    tokenizer = Tokenizer(IPA_V1, add_blank=add_blank)
    ids = tokenizer.encode(phonemes)
    assert tokenizer.decode(ids) == phonemes
    assert len(ids) == (2 * len(phonemes) + 1 if add_blank else len(phonemes))


def test_unknown_symbols_dropped_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    tokenizer = Tokenizer(CHARS_V1)
    with caplog.at_level(logging.WARNING, logger="tts_ebm.text.tokenizer"):
        ids = tokenizer.encode("a☃b☃_")
        tokenizer.encode("☃c")
    assert tokenizer.decode(ids) == "ab"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "☃" in warnings[0] and "'_'" in warnings[0]


# ---------------------------------------------------------------------------------------------
# TextFrontend


@pytest.mark.parametrize("text", ["", "   ", "🙂🙂", "\n\t"])
def test_empty_text_raises(ipa: TextFrontend, text: str) -> None:
    with pytest.raises(EmptyTextError, match="nothing to pronounce"):
        ipa.process(text)


def test_process_many_skip_empty(ipa: TextFrontend) -> None:
    texts = ["Hello there.", "🙂", "Good bye!"]
    out = ipa.process_many(texts, skip_empty=True)
    assert out[1] is None
    assert [o.phonemes for o in out if o] == [ipa.process(t).phonemes for t in texts[::2]]
    with pytest.raises(EmptyTextError, match="item 1"):
        ipa.process_many(texts)


def test_process_many_joins_sentences(ipa: TextFrontend) -> None:
    [out] = ipa.process_many(["Hello there. How are you?"])
    assert out.phonemes == "həlˈoʊ ðˈɛɹ. hˈaʊ ɑːɹ juː?"
    assert ipa.tokenizer.decode(out.ids) == out.phonemes
    assert out.ids[0] == out.ids[-1] == IPA_V1.blank_id


def test_config_round_trip(ipa: TextFrontend) -> None:
    config = json.loads(json.dumps(ipa.to_config()))
    assert config["kind"] == "ipa" and config["add_blank"] is True
    assert config["language"] == "en-us"
    assert config["symbol_table"]["name"] == "ipa" and config["symbol_table"]["version"] == 1
    assert config["symbol_table"]["symbols"] == list(IPA_V1.symbols)
    rebuilt = TextFrontend.from_config(config)
    assert rebuilt.symbols == ipa.symbols
    assert rebuilt.process(SENTENCE) == ipa.process(SENTENCE)


def test_config_refuses_tampered_symbols(ipa: TextFrontend) -> None:
    config = ipa.to_config()
    symbols = config["symbol_table"]["symbols"]
    symbols[12], symbols[13] = symbols[13], symbols[12]
    with pytest.raises(ValueError, match="differs from published table ipa v1: index 12"):
        TextFrontend.from_config(config)
    config = ipa.to_config()
    config["symbol_table"]["symbols"].append("ʘ")
    with pytest.raises(ValueError, match="differs"):
        TextFrontend.from_config(config)
    config = ipa.to_config()
    config["symbol_table"]["version"] = 99
    with pytest.raises(ValueError, match="no version 99"):
        TextFrontend.from_config(config)
    with pytest.raises(ValueError, match="lacks"):
        TextFrontend.from_config({"kind": "ipa"})


def test_character_mode() -> None:
    chars = TextFrontend("chars", add_blank=False)
    out = chars.process(SENTENCE)
    assert out.phonemes == normalize_text(SENTENCE).lower()
    assert chars.tokenizer.decode(out.ids) == out.phonemes
    assert chars.symbols is CHARS_V1
    assert TextFrontend.from_config(chars.to_config()).process("Hi!") == chars.process("Hi!")
    # The character table has plain letters: diacritics the normaliser keeps are folded here.
    assert chars.process("Müller's café, São Paulo").phonemes == "muller's cafe, sao paulo"
    with pytest.raises(ValueError, match="ipa"):
        TextFrontend("phones")


def test_frontend_pickles(ipa: TextFrontend) -> None:
    ipa.process("Warm up the backend.")
    clone = pickle.loads(pickle.dumps(ipa))
    assert clone.process(SENTENCE) == ipa.process(SENTENCE)
