"""Corpora in LJSpeech format: readers, datasets, bucketing and the synthetic toy corpus."""
