"""
Embed pipeline: import rows into a CloudTables data set, mint an access token, publish a page embedding the table.

The token travels from ``mint_token`` to ``publish_page`` through XCom (it is short-lived and scoped to the
``Viewer`` role and open airports); the API key stays in the connection ``cloudtables_default``. The page is
written under the ``ObjectStoragePath`` URL in the environment variable ``CLOUDTABLES_EMBED_BASE``
(``file://...`` for a demo, ``s3://...`` on a cluster), read when the task runs, not when the file is parsed.
"""

from __future__ import annotations

import html
import os
from typing import Any

import pendulum
from airflow.sdk import ObjectStoragePath, dag, task

from airflow_provider_cloud.operators.cloudtables import CloudTablesAccessTokenOperator
from airflow_provider_cloud.operators.rows import ImportRowsOperator

AIRPORTS = [
    {"Name": "Edinburgh", "Runways": 1, "Open": True},
    {"Name": "Aberdeen", "Runways": 2, "Open": True},
    {"Name": "Glasgow", "Runways": 3, "Open": False},
]


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def cloudtables_embed():
    import_rows = ImportRowsOperator(
        task_id="import_rows",
        conn_id="cloudtables_default",
        dataset="Airports",
        rows=AIRPORTS,
        key="Name",
    )

    mint_token = CloudTablesAccessTokenOperator(
        task_id="mint_token",
        conn_id="cloudtables_default",
        dataset="Airports",
        roles=["Viewer"],
        conditions={"Open": True},
        duration=600,
        client_id="embed-page",
        client_name="{{ dag.dag_id }}",
        style="bs4",
    )

    @task
    def publish_page(embed: dict[str, Any]) -> str:
        page = ObjectStoragePath(os.environ["CLOUDTABLES_EMBED_BASE"]) / "airports.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        title = html.escape(f"Airports (data set {embed['dataset_id']})")
        page.write_text(
            "<!doctype html>\n"
            f"<html><head><meta charset='utf-8'><title>{title}</title></head>\n"
            f"<body><h1>{title}</h1>\n{embed['script_tag']}\n</body></html>\n"
        )
        return str(page)

    import_rows >> mint_token
    publish_page(mint_token.output)


cloudtables_embed()
