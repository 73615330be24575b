"""Listeners the crawler's browser must never reach: any connection or datagram is a hit."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Self


class _Listener:
    """A socket served by a thread until the ``with`` block ends; ``hits`` is what came."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(0.2)
        self.host, self.port = self.sock.getsockname()[:2]
        self.hits: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _once(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self._once()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


class TcpCanary(_Listener):
    """Accepts on ``host``; ``hits`` holds what each connection sent (b"" if nothing)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        sock = socket.socket()
        sock.bind((host, 0))
        sock.listen(64)
        super().__init__(sock)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _once(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(0.5)
            data = b""
            with contextlib.suppress(OSError):
                data = conn.recv(4096)
            self.hits.append(data)


class UdpCanary(_Listener):
    """A UDP port (a STUN server, say); ``hits`` holds every datagram it received."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((host, port))
        super().__init__(sock)

    def _once(self) -> None:
        data, _ = self.sock.recvfrom(65536)
        self.hits.append(data)
