"""Experiments behind the chapters beyond the five steps: each a seeded run, its record (JSON),
its figure and the claims that quote it."""
