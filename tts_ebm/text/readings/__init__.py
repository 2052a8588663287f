"""The normaliser's reading rules, one module per kind of written form: number words
(``numbers``), digits in running text (``numerals``), dates and times (``dates``),
abbreviations (``abbreviations``), signs and units (``signs``, ``units``), web addresses
(``web``) and characters (``characters``). ``tts_ebm.text.normalize`` applies them in order."""
