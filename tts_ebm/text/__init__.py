"""English text front end: refusal of text that is not language, normalisation, phonemisation
(espeak-ng IPA or characters), versioned symbol tables and tokenisation."""

from tts_ebm.text.frontend import EmptyTextError, FrontendOutput, TextFrontend
from tts_ebm.text.normalize import normalize_text, split_sentences
from tts_ebm.text.phonemize import (
    PHONEMIZER_KINDS,
    CharacterPhonemizer,
    EspeakPhonemizer,
    Phonemizer,
    make_phonemizer,
)
from tts_ebm.text.readings.characters import strip_accents
from tts_ebm.text.readings.numbers import number_to_words, ordinal_to_words, year_to_words
from tts_ebm.text.symbols import BLANK, CHARS_V1, IPA_V1, PAD, SymbolTable, symbol_table
from tts_ebm.text.tokenizer import Tokenizer
from tts_ebm.text.validate import NotLanguageError, check_text

__all__ = [
    "BLANK",
    "CHARS_V1",
    "IPA_V1",
    "PAD",
    "PHONEMIZER_KINDS",
    "CharacterPhonemizer",
    "EmptyTextError",
    "EspeakPhonemizer",
    "FrontendOutput",
    "NotLanguageError",
    "Phonemizer",
    "SymbolTable",
    "TextFrontend",
    "Tokenizer",
    "check_text",
    "make_phonemizer",
    "normalize_text",
    "number_to_words",
    "ordinal_to_words",
    "split_sentences",
    "strip_accents",
    "symbol_table",
    "year_to_words",
]
