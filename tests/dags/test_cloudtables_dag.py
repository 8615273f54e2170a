"""The CloudTables embed DAG: rows imported, a token minted and passed by XCom into a published page."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import ObjectStoragePath

from tests.dags.dag_support import run_dag, task_states

pytestmark = [pytest.mark.dag, pytest.mark.integration]


def test_embed_dag_publishes_the_script_tag_and_keeps_the_key_out_of_xcom(
    airflow_db, cloudtables_conn_id, cloudtables_emulator, monkeypatch, tmp_path
):
    airports = cloudtables_emulator.add_dataset(
        "Airports", [("Name", "text"), ("Runways", "number"), ("Open", "boolean")]
    )
    monkeypatch.setenv("CLOUDTABLES_EMBED_BASE", f"file://{tmp_path}/site")

    dag_run, xcoms = run_dag("cloudtables_embed")

    assert task_states(dag_run) == {
        "import_rows": "success",
        "mint_token": "success",
        "publish_page": "success",
    }
    assert xcoms["import_rows"]["rows_written"] == 3
    assert len(cloudtables_emulator.rows(airports)) == 3
    embed = xcoms["mint_token"]
    (minted,) = cloudtables_emulator.tokens
    assert embed["token"] == minted.token
    assert embed["dataset_id"] == airports
    assert embed["expires_in"] == 600
    assert (minted.roles, minted.duration, minted.client_id, minted.client_name) == (
        ("Viewer",),
        600,
        "embed-page",
        "cloudtables_embed",
    )
    assert minted.conditions[0]["value"] is True
    expected_tag = (
        f'<script src="{cloudtables_emulator.url}/io/loader/{airports}/table/bs4" '
        f'data-token="{minted.token}"></script>'
    )
    assert embed["script_tag"] == expected_tag
    page = ObjectStoragePath(xcoms["publish_page"])
    assert page.path.startswith(str(tmp_path))
    assert expected_tag in page.read_text()
    assert cloudtables_emulator.api_key not in json.dumps(xcoms, default=str)
