"""
pyarrow, imported only when a Parquet file is read or written (the ``parquet`` extra).

Nothing imports pyarrow at module import time: the provider works without it, and asking for Parquet
without it raises ``AirflowOptionalProviderFeatureException`` saying what to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import NamedTuple

from airflow.sdk.exceptions import AirflowOptionalProviderFeatureException

INSTALL_HINT = "pip install 'airflow-provider-cloud[parquet]'"


class Arrow(NamedTuple):
    """The pyarrow modules the Parquet reader and writer use."""

    pa: ModuleType
    pq: ModuleType
    pc: ModuleType


def load_arrow(what: str) -> Arrow:
    """Return pyarrow's modules, or raise naming ``what`` needed them and how to install them."""
    try:
        return Arrow(
            importlib.import_module("pyarrow"),
            importlib.import_module("pyarrow.parquet"),
            importlib.import_module("pyarrow.compute"),
        )
    except ImportError as error:
        raise AirflowOptionalProviderFeatureException(
            f"{what} needs pyarrow, which is not installed ({error}): {INSTALL_HINT}"
        ) from error
