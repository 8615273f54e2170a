"""Internals of the CloudTables emulator; import ``CloudTablesEmulator`` from ``airflow_provider_cloud.testing.cloudtables``."""

from __future__ import annotations
