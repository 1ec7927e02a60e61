"""Narration: each sentence a scene says is spoken and captioned.

- ``spoken``: what the voice says for a caption ("π_ref" → "pi ref"), and a sentence's key;
- ``voices``: who says it — a lecturer's recording, else an offline voice (festival, espeak-ng),
  cached; or nobody (``NARRATION=none``) — and how long it lasts;
- ``cues``: the sentence's captions, cues of at most two lines of 42 characters, timed by the
  voice, written as SubRip and WebVTT;
- ``python -m scenes.narration list``: every sentence of every clip, with its key.

``scenes.base.ClaimScene`` puts them together: ``narrate``, ``narrate_claim`` and ``voiceover``.
"""
