"""Writers side by side: each on its own connection, started together."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from harvest.db.connection import connect


def side_by_side(dsn: str, n: int, write: Callable[[Any, int], None]) -> None:
    """Run ``write(conn, k)`` for k in range(n) at once; re-raise the first error."""
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        conn = connect(dsn)
        try:
            start.wait()
            write(conn, k)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
