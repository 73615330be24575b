"""scrapyd reads more than the file harvest checks: every file it reads is checked too.

A ``bind_address = 0.0.0.0`` in ``~/.scrapyd.conf`` or in a ``scrapy.cfg`` above
scrapyd's directory used to win over the checked file, and scrapyd listened on
every interface without auth. The check now reads the configuration the way
scrapyd does, from where scrapyd will run, and refuses what differs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OPEN = "[scrapyd]\nbind_address = 0.0.0.0\n"


def check(workdir: Path, home: Path, *flags: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("SCRAPYD_", "HARVEST_SCRAPYD"))
    }
    return subprocess.run(
        [
            str(BIN / "harvest"),
            "scrapyd",
            "--check",
            "--config",
            str(ROOT / "deploy" / "scrapyd.conf"),
            "--dir",
            str(workdir),
            *flags,
        ],
        env={**clean, "HOME": str(home), **env},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "home"
    home.mkdir()
    return tmp_path / "srv" / "harvest" / "scrapyd", home


def test_the_shipped_configuration_alone_is_accepted(places: tuple[Path, Path]) -> None:
    workdir, home = places
    proc = check(workdir, home)
    assert proc.returncode == 0, proc.stderr
    assert (workdir / "scrapyd.conf").exists()


def test_a_user_config_that_opens_scrapyd_is_refused(places: tuple[Path, Path]) -> None:
    workdir, home = places
    (home / ".scrapyd.conf").write_text(OPEN)
    proc = check(workdir, home)
    assert proc.returncode == 2
    assert "refusing to start" in proc.stderr
    assert "bind_address = '0.0.0.0'" in proc.stderr and str(home / ".scrapyd.conf") in proc.stderr


def test_a_scrapy_cfg_above_the_directory_that_opens_scrapyd_is_refused(
    places: tuple[Path, Path],
) -> None:
    workdir, home = places
    (workdir.parent.parent / "scrapy.cfg").parent.mkdir(parents=True, exist_ok=True)
    (workdir.parent.parent / "scrapy.cfg").write_text(OPEN)
    proc = check(workdir, home)
    assert proc.returncode == 2
    assert str(workdir.parent.parent / "scrapy.cfg") in proc.stderr


def test_another_port_or_credentials_from_elsewhere_are_refused(
    places: tuple[Path, Path],
) -> None:
    workdir, home = places
    (home / ".scrapyd.conf").write_text("[scrapyd]\nhttp_port = 8080\n")
    proc = check(workdir, home)
    assert proc.returncode == 2 and "http_port" in proc.stderr
    (home / ".scrapyd.conf").write_text("[scrapyd]\nusername = x\npassword = leaked\n")
    for flags in ((), ("--no-auth",)):  # harvest's own credentials or none: refused either way
        proc = check(workdir, home, *flags)
        assert proc.returncode == 2 and "username" in proc.stderr, proc.stderr
        assert "leaked" not in proc.stderr


def test_an_open_address_from_the_environment_needs_credentials(
    places: tuple[Path, Path],
) -> None:
    workdir, home = places
    proc = check(workdir, home, "--no-auth", SCRAPYD_BIND_ADDRESS="0.0.0.0")
    assert proc.returncode == 2 and "not loopback" in proc.stderr
    # without --no-auth, the credentials harvest makes at set-up are there
    proc = check(workdir, home, SCRAPYD_BIND_ADDRESS="0.0.0.0")
    assert proc.returncode == 0, proc.stderr
    assert (home / ".config" / "harvest" / "scrapyd.env").exists()
    proc = check(
        workdir,
        home,
        SCRAPYD_BIND_ADDRESS="0.0.0.0",
        SCRAPYD_USERNAME="u",
        SCRAPYD_PASSWORD="p",
    )
    assert proc.returncode == 0, proc.stderr
