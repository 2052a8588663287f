"""``tts-ebm serve``: the voices over OpenAI's and Piper's HTTP APIs, Wyoming and a demo page,
all on one fair, bounded scheduler (``scheduler``); ``app`` is the HTTP side, ``wyoming`` the
Home Assistant side, ``encoding`` the audio formats, ``server`` runs them together."""
