"""Exceptions that mean a user's mistake or a stopped run: reported as one line, no traceback.

Kept free of TensorFlow so that scripts can name them before the heavy import.
"""


class ConfigMismatch(Exception):
    """A checkpoint was made with a different config than the one asked for."""


class TrainingDiverged(Exception):
    """The loss became NaN or infinite."""


class MissingStep(Exception):
    """An earlier step's output is missing; the message names the command that makes it."""


RUN_ERRORS = (
    FileNotFoundError,
    ConfigMismatch,
    TrainingDiverged,
    MissingStep,
    KeyError,
    ValueError,
)
