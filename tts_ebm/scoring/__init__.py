"""Scoring (text, audio) pairs with a trained model: find the pairs whose audio does not say
its text (``tts-ebm score``, ``docs/scoring.md``).

- :mod:`~tts_ebm.scoring.pairs`: the per-utterance scores a checkpoint gives a prepared corpus
- :mod:`~tts_ebm.scoring.combine`: oriented, standardised scores and their measured combination
- :mod:`~tts_ebm.scoring.run`: a whole corpus (prepared on the fly, resumable), ``scores.tsv``
- :mod:`~tts_ebm.scoring.report`: the distribution plot and the page of the worst pairs
- :mod:`~tts_ebm.scoring.plant`: planted defects in a clean corpus, with their labels
- :mod:`~tts_ebm.scoring.metrics`: ROC-AUC and precision at the planted rate
- :mod:`~tts_ebm.scoring.study`: the planted-defect study against ASR and a duration heuristic
"""
