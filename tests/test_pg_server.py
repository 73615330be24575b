"""The scratch-database helper the tests and benchmarks share."""

from __future__ import annotations

import pytest

from tests.pg import Server


@pytest.mark.parametrize(
    "admin", ["postgresql://postgres@127.0.0.1:5432/postgres", "host=127.0.0.1 dbname=postgres"]
)
def test_drop_refuses_the_database_it_connects_through(admin: str) -> None:
    # Checked before connecting: a swapped name must never reach DROP DATABASE.
    with pytest.raises(ValueError, match="refusing to drop 'postgres'"):
        Server(admin, None).drop("postgres")
