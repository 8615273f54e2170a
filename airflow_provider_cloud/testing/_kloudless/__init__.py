"""
Private parts of the Kloudless v1 emulator; import it from ``airflow_provider_cloud.testing.kloudless``.

Layout (the moto shape): ``errors`` (the API's error bodies), ``models`` (records, their JSON, shared
parsers), ``feed`` (the events stream of one account), ``storage`` (the file tree of one account),
``calendar`` (the primary calendar of one account), ``oauth`` (authorize, code exchange, verification),
``backend`` (all state behind one lock, methods named after API operations), ``routes`` (path → endpoint)
and ``handler`` (HTTP mechanics: body, request log, latency, faults).
"""

from __future__ import annotations
