"""The maths of DPO as pure torch functions: ``dpo.py`` (the derivation, step by step),
``sequences.py`` (log π(y | x) of a causal LM), ``validation.py`` (the errors for bad input).
Imports torch and nothing else of the project."""
