"""
Internals of the Kloudless v1 emulator; import ``KloudlessEmulator`` from ``airflow_provider_cloud.testing.kloudless``.

Layout (the same file names as ``_cloudtables``): ``routes`` (path -> endpoint, answers in the API's shape),
``backend`` (all state behind one lock, one method per API operation), ``records`` (what is stored, and its
JSON), ``errors`` (the error body and the error_code table), ``params`` (query values, paging, bodies), and the
parts of one account the backend composes: ``feed`` (events), ``storage`` (files), ``calendar``, ``oauth``.
"""

from __future__ import annotations
