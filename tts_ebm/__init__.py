"""tts-ebm: text-to-speech acoustic models trained as energy-based models."""

__version__ = "0.1.0"
