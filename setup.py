# scrapyd-deploy builds eggs with `setup.py bdist_egg`; everything about the
# package (modules, SQL migrations, the scrapy settings entry point) is in
# pyproject.toml.
from setuptools import setup

setup()
