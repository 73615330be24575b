"""One settings registry: every setting declared once, read -s, then environment, then default."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings

from harvest import config
from harvest.crawl.browser import BrowserConfig
from harvest.crawl.parse_pool import Parser
from harvest.db.store_config import DbConfig
from harvest.frontier import FrontierConfig

README = Path(__file__).resolve().parents[1] / "README.md"
_TEXT_VALUES = {
    "MEDIUM_BASE_URL": "http://127.0.0.1:8000",
    "HARVEST_DATABASE_URL": "postgresql://db.example/h",
    "HARVEST_REDIS_URL": "redis://r.example:6379/2",
    "HARVEST_FETCHER": "impersonate",
}


def sample(setting: config.Setting) -> tuple[str, Any]:
    """A valid value other than the default, as text and as read."""
    if setting.kind == "bool":
        return ("0", False) if setting.default else ("1", True)
    if setting.kind == "int":
        n = (setting.default if setting.default is not None else int(setting.minimum or 0)) + 1
        return str(n), n
    if setting.kind == "float":
        x = float(setting.default if setting.default is not None else 0) + 2.5
        return str(x), x
    text = _TEXT_VALUES.get(setting.name, f"/srv/{setting.name.lower()}")
    return text, text


@pytest.mark.parametrize("setting", config.SETTINGS, ids=lambda s: s.name)
def test_each_setting_from_the_environment_and_from_s(setting: config.Setting) -> None:
    text, want = sample(setting)
    assert want != setting.default
    for env_name in setting.env_names:
        assert config.value(Settings(), setting.name, {env_name: text}) == want
        assert config.source(Settings(), setting.name, {env_name: text}) == (
            f"environment {env_name}"
        )
    assert config.value(Settings({setting.name: text}), setting.name, {}) == want
    # -s wins over the environment, which wins over the default
    other = text if setting.kind == "text" else None
    if other is not None:
        assert (
            config.value(Settings({setting.name: text}), setting.name, {setting.name: "x"}) == want
        )
    assert config.value(Settings(), setting.name, {}) == setting.default
    assert config.source(Settings(), setting.name, {}) == "default"


def test_s_wins_over_the_environment() -> None:
    settings = Settings({"HARVEST_DB_WRITERS": "3"})
    assert config.value(settings, "HARVEST_DB_WRITERS", {"HARVEST_DB_WRITERS": "5"}) == 3
    assert config.value(Settings(), "HARVEST_DB_WRITERS", {"HARVEST_DB_WRITERS": "5"}) == 5
    # DATABASE_URL is the older name: HARVEST_DATABASE_URL comes first
    env = {"DATABASE_URL": "postgresql://old/x", "HARVEST_DATABASE_URL": "postgresql://new/x"}
    assert config.value(Settings(), "HARVEST_DATABASE_URL", env) == "postgresql://new/x"


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("HARVEST_DB_WRITERS", "0", "HARVEST_DB_WRITERS must be at least 1, not 0 (from -s"),
        ("HARVEST_DB_WRITERS", "two", "must be a whole number, not 'two'"),
        ("HARVEST_PARSE_WORKERS", "100", "must be at most 64"),
        ("HARVEST_BROWSER", "maybe", "must be 1 or 0"),
        ("HARVEST_REDIS_URL", "http://x", "must start with redis://"),
        ("HARVEST_DATABASE_URL", "mysql://x", "postgresql://"),
        ("MEDIUM_BASE_URL", "ftp://x", "must be an http(s) URL"),
        ("HARVEST_RETRY_AFTER_MAX", "-1", "must be at least 0"),
    ],
)
def test_bad_values_are_refused_with_the_setting_and_where_it_came_from(
    name: str, raw: str, message: str
) -> None:
    with pytest.raises(config.SettingError, match=re.escape(message)):
        config.value(Settings({name: raw}), name, {})
    with pytest.raises(config.SettingError, match=f"environment {name}"):
        config.value(Settings(), name, {name: raw})


def test_check_reads_everything_and_names_every_problem() -> None:
    config.check(Settings(), {})
    with pytest.raises(config.SettingError) as caught:
        config.check(Settings({"HARVEST_DB_WRITERS": "0", "HARVEST_BROWSER": "x"}), {})
    assert "HARVEST_DB_WRITERS" in str(caught.value) and "HARVEST_BROWSER" in str(caught.value)
    with pytest.raises(config.SettingError, match="cannot be combined"):
        config.check(Settings(), {"DATABASE_URL": "postgresql://x/y", "HARVEST_PGDATA": "/d"})


def test_unknown_harvest_names_are_found() -> None:
    settings = Settings({"HARVEST_BROWSR": "0", "HARVEST_BROWSER": "0"})
    assert config.unknown(
        settings, {"HARVEST_PARSE_WORKRS": "1", "HARVEST_TEST_REDIS_URL": "x"}
    ) == [
        "HARVEST_BROWSR",
        "HARVEST_PARSE_WORKRS",
    ]


def test_the_components_read_through_the_registry() -> None:
    env = {"HARVEST_BROWSER": "0", "HARVEST_PARSE_WORKERS": "0", "HARVEST_DB_WRITERS": "4"}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.setenv("HARVEST_REDIS_URL", "redis://127.0.0.1:6379/3")
        assert not BrowserConfig.from_settings(Settings()).enabled
        assert Parser.from_settings(Settings()).workers == 0
        assert DbConfig.from_settings(Settings()).writers == 4
        frontier = FrontierConfig.from_settings(Settings())
        assert frontier is not None and frontier.url.endswith("/3")
        # -s still wins
        assert BrowserConfig.from_settings(
            Settings({"HARVEST_BROWSER": "1", "HARVEST_CHROMIUM": "/x"})
        ).enabled


def test_readme_settings_table_is_the_registry() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- settings: start -->") + len("<!-- settings: start -->\n")
    end = text.index("<!-- settings: end -->")
    assert text[start:end] == config.markdown_table(), (
        "README's settings table differs from harvest.config: paste "
        "`python -c 'from harvest import config; print(config.markdown_table(), end=\"\")'`"
    )
    for setting in config.SETTINGS:
        assert f"`{setting.name}`" in text[start:end]


def test_the_package_builds_without_setuptools_deprecations() -> None:
    # A license table made set-up print setuptools' deprecation three times;
    # the SPDX string needs setuptools 77+, at build time and for scrapyd-deploy.
    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert isinstance(project["project"]["license"], str)
    assert "setuptools>=77" in project["build-system"]["requires"]
    pins = dict(
        line.split("==", 1)
        for line in (root / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert tuple(int(p) for p in pins["setuptools"].split(".")[:2]) >= (77, 0)
