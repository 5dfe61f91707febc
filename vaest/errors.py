"""Errors that mean a user's mistake or a stopped run: each is reported as one line, no traceback.

Every one is a UserError, so a script catches that type alone and a real bug (a bare KeyError or
ValueError from the code) keeps its traceback. Kept free of TensorFlow so that scripts can name
them before the heavy import.
"""


class UserError(Exception):
    """A mistake in the user's input or setup: reported as one line, exit code 2."""


class ConfigMismatch(UserError):
    """A checkpoint or export was made with a different config than the one asked for."""


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""


class MissingStep(UserError):
    """An earlier step's output is missing; the message names the command that makes it."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (what timeout, systemd, docker and Slurm send), raised where Ctrl-C would be, so
    that it takes Ctrl-C's path: training saves, temporaries and locks are removed."""
