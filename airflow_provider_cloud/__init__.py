"""Apache Airflow 3 provider for hosted data APIs: Datasette, CloudTables and Kloudless."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
