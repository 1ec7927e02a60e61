"""Toy worlds where every quantity of the derivation can be computed exactly: ``tabular`` (prompts ×
named responses) and ``tokens`` (token sequences short enough to list every response)."""
