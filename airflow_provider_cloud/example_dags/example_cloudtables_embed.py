"""
CloudTables embed: import rows into a data set, mint an embed token, publish an HTML page with the ``<script>`` tag.

Each day:

1. ``import_people`` upserts ``<file base>/incoming/people.csv`` into the CloudTables data set (by its
   ``Person`` data point), renaming the CSV columns to the data set's data point names;
2. ``mint_embed_token`` asks CloudTables for a short-lived access token for that data set (roles from a
   Variable) and returns it with the matching ``<script>`` tag: the token travels through XCom, the API
   key stays in the connection;
3. ``publish_page`` writes ``<file base>/embed/<data set>.html``, a page that shows the table, and returns
   its URL.

Settings, all read when a task runs:

- connection ``cloudtables_default`` (conn type ``cloudtables``: host = ``https://<sub-domain>.cloudtables.io``
  or a self-hosted server's URL, password = the API key, extras ``clientId``/``clientName``);
- Variable ``cloud_provider_file_base``: where files live (``s3://...``/``gs://...`` on a cluster); default
  ``file://`` + the folder in the environment variable ``CLOUD_PROVIDER_FILE_BASE`` (else
  ``/tmp/airflow-provider-cloud``);
- Variable ``cloud_provider_embed_dataset``: the data set's name or id (default ``People``, with the data
  points ``Person`` (number), ``Name``, ``Email``, ``Score`` (number) and ``Updated`` (date and time));
- Variable ``cloud_provider_embed_roles``: the roles the page's readers get (default ``Viewer``).
"""

from __future__ import annotations

import html
import os
from typing import Any

import pendulum
from airflow.sdk import ObjectStoragePath, dag, task

from airflow_provider_cloud.operators.cloudtables import CloudTablesAccessTokenOperator
from airflow_provider_cloud.operators.rows import ImportRowsOperator

CONN_ID = "cloudtables_default"
#: The file base without the Variable; the environment is read where the file is parsed, which on Airflow 3
#: includes the worker, right before it runs a task.
LOCAL_FILE_BASE = "file://" + os.path.abspath(
    os.environ.get("CLOUD_PROVIDER_FILE_BASE", "/tmp/airflow-provider-cloud")
)
FILE_BASE = "{{ var.value.get('cloud_provider_file_base', local_file_base) }}"
DATASET = "{{ var.value.get('cloud_provider_embed_dataset', 'People') }}"
#: CSV column → data point of the data set (``id`` is the name of a CloudTables row's own id).
RENAME = {"id": "Person", "name": "Name", "email": "Email", "score": "Score", "updated_at": "Updated"}
#: How long the token may wait for its first use, and then stay idle, in seconds: the page is rebuilt daily.
TOKEN_SECONDS = 24 * 60 * 60


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    user_defined_macros={"local_file_base": LOCAL_FILE_BASE},
    tags=["example", "cloudtables"],
    doc_md=__doc__,
)
def example_cloudtables_embed() -> None:
    # [START howto_operator_import_rows_cloudtables]
    import_people = ImportRowsOperator(
        task_id="import_people",
        conn_id=CONN_ID,
        dataset=DATASET,
        source=FILE_BASE + "/incoming/people.csv",
        rename=RENAME,
        key="Person",
    )
    # [END howto_operator_import_rows_cloudtables]

    # [START howto_operator_cloudtables_access_token]
    mint_embed_token = CloudTablesAccessTokenOperator(
        task_id="mint_embed_token",
        conn_id=CONN_ID,
        dataset=DATASET,
        roles="{{ var.value.get('cloud_provider_embed_roles', 'Viewer') }}",
        duration=TOKEN_SECONDS,
        client_id="embed-page",
        client_name="{{ dag.dag_id }}",
        style="d",
    )
    # [END howto_operator_cloudtables_access_token]

    # [START howto_cloudtables_embed_page]
    @task
    def publish_page(embed: dict[str, Any], page_url: str) -> dict[str, Any]:
        """Write an HTML page embedding the data set with the minted token; return its URL and size."""
        page = ObjectStoragePath(page_url)
        page.parent.mkdir(parents=True, exist_ok=True)
        title = html.escape(f"{embed['dataset']} (CloudTables data set {embed['dataset_id']})")
        text = (
            "<!doctype html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            f"<title>{title}</title></head>\n"
            f"<body><h1>{title}</h1>\n{embed['script_tag']}\n</body></html>\n"
        )
        page.write_text(text, encoding="utf-8")
        return {"path": str(page), "bytes": len(text.encode("utf-8")), "expires_in": embed["expires_in"]}

    page = publish_page(
        mint_embed_token.output,  # type: ignore[arg-type]  # resolved to the operator's return value
        page_url=FILE_BASE + "/embed/" + DATASET + ".html",
    )
    # [END howto_cloudtables_embed_page]

    import_people >> mint_embed_token >> page


example_cloudtables_embed()
