"""
Private parts of the Kloudless v1 emulator; import it from ``airflow_provider_cloud.testing.kloudless``.

Layout (the moto shape): ``errors`` (the API's error bodies), ``models`` (records and their JSON),
``feed`` (the events stream of one account), ``storage`` (the file tree of one account), ``backend``
(all state behind one lock, methods named after API operations) and ``handler`` (HTTP routing).
"""

from __future__ import annotations
