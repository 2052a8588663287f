"""Hydra configs of `tts-ebm train` (a package so they work from an installed wheel)."""
