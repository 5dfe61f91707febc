"""ffmpeg children that die with their parent: a killed run leaves no ffmpeg writing on.

On Linux, a child started with PR_SET_PDEATHSIG gets SIGKILL when the thread that started it
ends, so only children started on the main thread are tied (a worker thread ends early). Other
systems keep the default: the child ends when its pipe closes.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

import imageio_ffmpeg._io as imageio_io

_PR_SET_PDEATHSIG = 1
# Looked up here, not in the child: between fork and exec, a child of a threaded process must not
# take locks (dlopen's) that another thread may have held at the fork.
_prctl = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """Run in the child before exec (a preexec_fn)."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def preexec(keep_own_group: bool = False):
    """The preexec_fn for a child started now: tied to this process where that is possible.
    keep_own_group: also start a process group, so that a Ctrl-C in the terminal reaches only
    the parent (which then stops the child itself)."""
    tie = sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread()
    if not tie:
        return os.setpgrp if keep_own_group else None
    if not keep_own_group:
        return die_with_parent

    def both() -> None:
        os.setpgrp()
        die_with_parent()

    return both


def tie_imageio_ffmpeg() -> None:
    """Make imageio-ffmpeg's readers and writers start ffmpeg with preexec() (its Popen options
    come from one private helper, _popen_kwargs, of the pinned version)."""
    original = imageio_io._popen_kwargs
    if getattr(original, "tied", False):
        return

    def kwargs(prevent_sigint: bool = False) -> dict:
        options = original(prevent_sigint=prevent_sigint)
        if options.get("preexec_fn") is os.setpgrp:  # unless the user turned it off
            options["preexec_fn"] = preexec(keep_own_group=True)
        return options

    kwargs.tied = True
    imageio_io._popen_kwargs = kwargs
