"""OpenLineage of the Kloudless file operators after real runs against the emulator."""

from __future__ import annotations

import pytest

from airflow_provider_cloud.operators.kloudless import (
    KloudlessDownloadFileOperator,
    KloudlessUploadFileOperator,
)

pytestmark = pytest.mark.integration


def names(datasets):
    return [(d.namespace, d.name) for d in datasets]


def test_upload_then_download_name_the_same_kloudless_file(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id, kloudless_token, tmp_path
):
    source = tmp_path / "report.csv"
    source.write_bytes(b"id,name\n1,a\n2,b\n")
    folder = kloudless_emulator.add_folder(kloudless_account_id, "reports")
    upload = KloudlessUploadFileOperator(
        task_id="u", conn_id=kloudless_conn_id, source=str(source), parent_id=folder["id"]
    )
    uploaded = upload.execute({})
    lineage = upload.get_openlineage_facets_on_complete(None)
    kloudless_file = (f"kloudless://{kloudless_conn_id}", "/reports/report.csv")
    assert names(lineage.inputs) == [("file", str(source))]
    assert names(lineage.outputs) == [kloudless_file]
    assert lineage.outputs[0].outputFacets["outputStatistics"].size == source.stat().st_size

    target = tmp_path / "inbox" / "report.csv"
    download = KloudlessDownloadFileOperator(
        task_id="d", conn_id=kloudless_conn_id, file_id=uploaded["file_id"], destination=str(target)
    )
    download.execute({})
    lineage = download.get_openlineage_facets_on_complete(None)
    assert names(lineage.inputs) == [kloudless_file]  # the same dataset the upload wrote
    assert names(lineage.outputs) == [("file", str(target))]
    assert lineage.outputs[0].outputFacets["outputStatistics"].size == target.stat().st_size
    assert kloudless_token not in str(download.lineage) + str(upload.lineage)


def test_a_numeric_account_names_the_dataset(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id, tmp_path
):
    meta = kloudless_emulator.add_file(kloudless_account_id, "a.csv", b"x\n1\n")
    download = KloudlessDownloadFileOperator(
        task_id="d",
        conn_id=kloudless_conn_id,
        account_id=kloudless_account_id,
        file_id=meta["id"],
        destination=str(tmp_path) + "/",
    )
    download.execute({})
    (source,) = download.get_openlineage_facets_on_complete(None).inputs
    assert source.namespace == f"kloudless://{kloudless_account_id}"
    assert source.name == meta["path"]
