"""Item pipelines: normalization and PostgreSQL storage."""
