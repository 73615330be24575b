"""``scrapy crawl``, with an exit status that says how the crawl went.

Scrapy's own command exits 0 whenever the spider could start, whatever was
lost on the way. This one (the project's COMMANDS_MODULE, so scrapyd jobs run
it too) exits with the status of :mod:`harvest.crawl.outcome` and prints the
crawl's summary when the log did not already show it. Conditions a user meets
on purpose or by mistake (a wrong argument or setting, Redis or the browser
missing) end in one line on stderr, not a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import platformdirs
from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.exceptions import UsageError

from harvest.config import SettingError
from harvest.contract.tally import USAGE_EXIT
from harvest.crawl import StartupError
from harvest.crawl import outcome as outcome_module
from harvest.crawl.args import SpiderArgumentError
from harvest.crawl.outcome import CrawlOutcome
from harvest.secrets import masked_settings

# Raised before the first request by what the user gave: one line, exit 2.
USAGE_ERRORS: tuple[type[Exception], ...] = (SpiderArgumentError, SettingError)
# Conditions of the machine, not bugs: one line, exit 1.
EXPECTED_ERRORS: tuple[type[Exception], ...] = (*USAGE_ERRORS, StartupError)


class Command(ScrapyCrawl):
    def short_desc(self) -> str:
        return (
            "Run a spider; the exit status says how the crawl went (README: What a crawl tells you)"
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        # Before Scrapy opens the log file: the log, the kept pages and the data
        # directories are the operator's alone (page text, URLs, sometimes DSNs).
        os.umask(0o077)
        keep_secrets_out_of_the_log()
        super().process_options(args, opts)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        os.umask(0o077)
        if len(args) != 1:
            raise UsageError(
                "give one spider" if not args else "running more than one spider is not supported"
            )
        assert self.crawler_process is not None
        assert self.settings is not None
        _telnet_password_to_a_file(self.settings)
        try:
            crawler = self.crawler_process.create_crawler(args[0])
        except EXPECTED_ERRORS as exc:
            self._say(exc)
            return
        failures: list[BaseException] = []
        # On a terminal, Scrapy's closing lines (the stats dump) come after the
        # spider closes: the summary is printed below, last.
        outcome_module.SUMMARY_AT_EXIT = _log_on_stderr(crawler.settings)
        started = self.crawler_process.crawl(crawler, **opts.spargs)
        _collect_failure(started, failures)
        self.crawler_process.start()
        if failures:
            self._say(failures[0])
            return
        self._finish(crawler)

    def _finish(self, crawler: Any) -> None:
        """The exit status the outcome decided, and its summary where the log did
        not show it."""
        try:
            ext = crawler.get_extension(CrawlOutcome)
        except RuntimeError:  # the crawl never got as far as its extensions
            ext = None
        if ext is None or ext.outcome is None:
            assert self.crawler_process is not None
            self.exitcode = 1 if self.crawler_process.bootstrap_failed else 0
            return
        outcome = ext.outcome
        self.exitcode = outcome.exit_code
        if outcome_module.SUMMARY_AT_EXIT or not _shown_in_log(crawler.settings, ext.level):
            print("\n".join(ext.summary), file=sys.stderr, flush=True)

    def _say(self, exc: BaseException) -> None:
        expected = isinstance(exc, EXPECTED_ERRORS)
        if not expected:
            # A real bug: its traceback is what a bug report needs.
            logging.getLogger(__name__).error(
                "the crawl could not start", exc_info=(type(exc), exc, exc.__traceback__)
            )
            self.exitcode = 1
            return
        print(f"harvest: {exc}", file=sys.stderr)
        self.exitcode = USAGE_EXIT if isinstance(exc, USAGE_ERRORS) else 1


class _SecretFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith("Telnet Password"):
            return False
        if message.startswith("Overridden settings") and isinstance(record.args, dict):
            record.args = {
                **record.args,
                "settings": masked_settings(str(record.args["settings"])),
            }
        return True


def keep_secrets_out_of_the_log() -> None:
    """Scrapy logs a telnet password it made up, and every setting given with -s
    (TELNETCONSOLE_PASSWORD, HARVEST_DATABASE_URL with its password...): not here."""
    for name in ("scrapy.extensions.telnet", "scrapy.crawler"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _SecretFilter) for f in logger.filters):
            logger.addFilter(_SecretFilter())


def _telnet_password_to_a_file(settings: Any) -> None:
    """A telnet console asked for gets a password Scrapy does not log (it logs the
    ones it makes up): one of the operator's, or a new one in an owner-only file."""
    if not settings.getbool("TELNETCONSOLE_ENABLED") or settings.get("TELNETCONSOLE_PASSWORD"):
        return
    path = Path(platformdirs.user_data_dir("harvest")) / "telnet-password"
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_hex(16)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    settings.set("TELNETCONSOLE_PASSWORD", password, priority="cmdline")
    print(f"harvest: the telnet console's password is in {path}", file=sys.stderr)


def _collect_failure(started: Any, failures: list[BaseException]) -> None:
    """Keep the exception a crawl failed to start with (and so keep asyncio from
    logging it as "never retrieved")."""
    if isinstance(started, asyncio.Future):

        def done(task: asyncio.Future[Any]) -> None:
            if not task.cancelled() and task.exception() is not None:
                failures.append(task.exception())  # type: ignore[arg-type]

        started.add_done_callback(done)
    else:  # a Deferred (CrawlerProcess, FORCE_CRAWLER_PROCESS)

        def errback(failure: Any) -> None:
            failures.append(failure.value)

        started.addErrback(errback)


def _log_on_stderr(settings: Any) -> bool:
    """Whether the crawl's log goes to the terminal (Scrapy's default)."""
    return settings.getbool("LOG_ENABLED", True) and not settings.get("LOG_FILE")


def _shown_in_log(settings: Any, level: int) -> bool:
    """Whether the log on stderr already carries a record of ``level``."""
    if not settings.getbool("LOG_ENABLED", True) or settings.get("LOG_FILE"):
        return False
    configured = settings.get("LOG_LEVEL") or "DEBUG"
    threshold = logging.getLevelName(str(configured).upper())
    return isinstance(threshold, int) and level >= threshold
