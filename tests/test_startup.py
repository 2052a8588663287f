"""Start-up: the CLI and the library import only what is needed (issue 15). Each probe runs in a
fresh interpreter, since this one has long imported everything."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tts_ebm.commands import MODULES

HEAVY = ("torch", "numpy", "lightning", "hydra", "librosa", "matplotlib", "scipy", "soundfile")
PARSER_FREE_OF = (*HEAVY, "rich")
SYNTHESIZER_FREE_OF = ("lightning", "hydra", "matplotlib", "librosa", "scipy", "soundfile", "rich")


def imported_after(code: str, names: tuple[str, ...]) -> list[str]:
    """Which of the top-level packages ``names`` a new interpreter holds after running ``code``."""
    probe = f"import sys\n{code}\nprint(sorted(m for m in {names!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", MODULES)
def test_command_module_imports_nothing_heavy(name):
    assert imported_after(f"import tts_ebm.commands.{name}", HEAVY) == []


def test_building_the_parser_stays_light():
    code = "import tts_ebm.cli; tts_ebm.cli.build_parser()"
    assert imported_after(code, PARSER_FREE_OF) == []


def test_vocoder_runtime_names_do_not_import_torch():
    """Argument parsers read the runtime names; the vocoder package must not load for them."""
    code = "from tts_ebm.vocoder.runtime import RUNTIMES"
    assert imported_after(code, ("torch", "numpy")) == []


def test_synthesizer_imports_no_training_or_plotting_stack():
    code = (
        "from tts_ebm import Synthesizer\n"
        "assert not any(m.startswith(('tts_ebm.train', 'tts_ebm.data')) for m in sys.modules)"
    )
    assert imported_after(code, SYNTHESIZER_FREE_OF) == []
