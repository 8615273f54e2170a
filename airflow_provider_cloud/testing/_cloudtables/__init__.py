"""
Internals of the CloudTables emulator; import ``CloudTablesEmulator`` from ``airflow_provider_cloud.testing.cloudtables``.

Layout (the same file names as ``_kloudless``): ``routes`` (URL -> endpoint, answers in the API's shape),
``backend`` (state and rules, one method per API operation), ``records`` (what is stored), ``errors`` (the
error shapes), ``params`` (request parameters in every client encoding), ``values`` (typing of values),
``views`` (the JSON of data sets, schemas and rows), ``rate_limit``.
"""

from __future__ import annotations
