"""Speed and memory benchmarks behind ``tts-ebm benchmark``: training steps and synthesis.

Each benchmark is a function of an options dataclass that returns a JSON-able dict, plus a
``print_report`` that renders it; the command module only parses arguments and wires them up.
"""

# The synthesis benchmark's sections, here so that argument parsing can name them without
# importing torch (see tts_ebm.benchmarks.synthesis).
SYNTHESIS_SECTIONS = ("acoustic", "vocoders", "stream", "pipeline", "file-memory")
