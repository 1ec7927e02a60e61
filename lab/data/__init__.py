"""Data the trainers take: preference pairs and their weights (``pairs``), token batches
(``batches``), preference files (``jsonl``) and the token world listed response by response
(``enumerated``)."""
