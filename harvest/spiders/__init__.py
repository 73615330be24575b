"""Spiders route requests only: parsing lives in harvest.medium, storage in pipelines."""
