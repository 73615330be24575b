# scrapyd-deploy builds eggs with `python setup.py bdist_egg`; the metadata
# itself lives in pyproject.toml.
from setuptools import setup

setup()
