"""Running a program in a real pseudo-terminal of a given size, for tests of
what a person sees."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
from typing import Any


def run_in_terminal(
    argv: list[str], columns: int = 120, *, log: bool = True, **popen: Any
) -> tuple[int, str]:
    """Run ``argv`` with stdout (and, with ``log``, stderr) on a terminal
    ``columns`` wide; its exit status and everything it showed there."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    stderr = slave if log else subprocess.DEVNULL
    proc = subprocess.Popen(argv, stdout=slave, stderr=stderr, stdin=subprocess.DEVNULL, **popen)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the other end closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=300), b"".join(chunks).decode(errors="replace")
