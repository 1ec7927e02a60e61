"""What users read: tables and numbers (``tables``), the claims' verdicts (``claims``), training
reports as text, Markdown and JSON (``training``), and figures (``figures``)."""
