"""Every benchmark of the project, behind ``tts-ebm benchmark NAME`` (benchmarks/README.md).

``training`` and ``synthesis`` are functions of an options dataclass that return a JSON-able
dict, plus a ``print_report`` that renders it (the synthesis benchmark in four modules: the run
and its voice sections, the acoustic section, the targets, the report); the studies
(``criteria_cost``, ``criteria_quality``, ``sance_intervals``, ``gpu``) bring their own
``add_arguments`` and ``run``. The command module only wires them up.
"""

# The synthesis benchmark's sections, here so that argument parsing can name them without
# importing torch (see tts_ebm.benchmarks.synthesis).
SYNTHESIS_SECTIONS = ("acoustic", "vocoders", "stream", "pipeline", "file-memory")
