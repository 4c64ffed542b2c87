"""Vietnamese as citizens type it: normalisation (``normalize``, ``syllables``, ``teencode``) and
the knowledge matcher (``matcher``), with its evaluation (``evaluation``)."""
