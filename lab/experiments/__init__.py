"""Experiments behind the chapters beyond the five steps: each a seeded run, its record (JSON),
its figure and the claims that quote it."""


class ExperimentFailed(RuntimeError):
    """The experiment could not reach what it is meant to show; the message says why."""
