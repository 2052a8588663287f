"""Listening tests (MOS, MUSHRA, A/B) of synthetic speech: build, serve, analyse.

One job per module: ``design`` (the manifest and each listener's order), ``build`` (a test folder
from systems' wav folders), ``storage`` (ratings in SQLite), ``server`` (the web page and its
API, standard library only), ``analysis`` (statistics) and ``report`` (table, CSV, plot).
The command line is ``tts-ebm listen build|serve|results``; docs/listening.md explains the use.
"""

from tts_ebm.listening.design import KINDS, Manifest, listener_plan

__all__ = ["KINDS", "Manifest", "listener_plan"]
