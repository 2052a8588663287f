"""Training: Lightning module, data, callbacks, and the `tts-ebm train` entry point."""
