"""OpenLineage of the row operators after real runs: Datasette (real server) and CloudTables (emulator)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from airflow.providers.openlineage.extractors.base import DefaultExtractor

from airflow_provider_cloud.operators.links import DatasetteTableLink
from airflow_provider_cloud.operators.rows import CleanupRowsOperator, ExportRowsOperator, ImportRowsOperator
from tests.integration.operators.rows_support import write_people_csv

pytestmark = pytest.mark.integration


def statistics(dataset):
    facets = getattr(dataset, "outputFacets", None) or dataset.inputFacets
    stats = facets.get("outputStatistics") or facets.get("inputStatistics")
    return stats.rowCount, stats.size


def test_import_export_and_cleanup_report_their_datasets(
    datasette_server, datasette_conn_id, fresh_table_name, tmp_path
):
    source = write_people_csv(tmp_path / "people.csv", 30)
    authority = urlsplit(datasette_server.url).netloc
    table = (f"datasette://{authority}", f"data.{fresh_table_name}")

    importer = ImportRowsOperator(
        task_id="i",
        conn_id=datasette_conn_id,
        dataset=fresh_table_name,
        source=str(source),
        key="id",
        create=True,
    )
    importer.execute({})
    lineage = importer.get_openlineage_facets_on_complete(None)
    (file_in,), (table_out,) = lineage.inputs, lineage.outputs
    assert (file_in.namespace, file_in.name) == ("file", str(source))
    assert statistics(file_in) == (30, source.stat().st_size)
    assert [f.name for f in file_in.facets["schema"].fields] == source.read_text().splitlines()[0].split(",")
    assert (table_out.namespace, table_out.name) == table
    assert statistics(table_out) == (30, None)
    assert {f.name: f.type for f in table_out.facets["schema"].fields}["id"].lower() == "integer"
    assert table_out.facets["lifecycleStateChange"].lifecycleStateChange.value == "CREATE"
    # As the OpenLineage provider's listener reads it when the task ends:
    extracted = DefaultExtractor(importer).extract_on_complete(None)
    assert [(d.namespace, d.name) for d in extracted.inputs + extracted.outputs] == [
        ("file", str(source)),
        table,
    ]

    destination = tmp_path / "out.jsonl"
    exporter = ExportRowsOperator(
        task_id="e",
        conn_id=datasette_conn_id,
        dataset=fresh_table_name,
        destination=str(destination),
        columns=["id", "name"],
        cursor_column="id",
        since=10,
    )
    exporter.execute({})
    lineage = exporter.get_openlineage_facets_on_complete(None)
    (table_in,), (file_out,) = lineage.inputs, lineage.outputs
    assert (table_in.namespace, table_in.name) == table
    assert (file_out.namespace, file_out.name) == ("file", str(destination))
    assert statistics(file_out) == (20, destination.stat().st_size)
    assert [f.name for f in file_out.facets["schema"].fields] == ["id", "name"]

    cleanup = CleanupRowsOperator(
        task_id="c", conn_id=datasette_conn_id, dataset=fresh_table_name, where={"id__gt": 25}
    )
    assert cleanup.execute({}) == 5
    (out,) = cleanup.get_openlineage_facets_on_complete(None).outputs
    assert (out.namespace, out.name) == table
    assert statistics(out) == (5, None)
    assert "lifecycleStateChange" not in out.facets  # some rows, not every row

    everything = CleanupRowsOperator(
        task_id="c", conn_id=datasette_conn_id, dataset=fresh_table_name, where={}
    )
    assert everything.execute({}) == 25
    (out,) = everything.get_openlineage_facets_on_complete(None).outputs
    assert out.facets["lifecycleStateChange"].lifecycleStateChange.value == "TRUNCATE"

    # The extra link: the table's page, and no token anywhere in what lineage or the link carry.
    link = DatasetteTableLink().get_link(everything, ti_key=None)
    assert link == f"{datasette_server.url.rstrip('/')}/data/{fresh_table_name}"
    carried = json.dumps([str(everything.lineage), str(importer.lineage), str(exporter.lineage), link])
    assert datasette_server.token not in carried


def test_a_cloudtables_import_names_the_data_set_by_id(cloudtables_emulator, cloudtables_conn_id, tmp_path):
    dataset_id = cloudtables_emulator.add_dataset("Readings", [("code", "text"), ("value", "number")])
    source = tmp_path / "r.csv"
    source.write_text("code,value\nA,1\nB,2\nC,3\n")
    importer = ImportRowsOperator(
        task_id="i", conn_id=cloudtables_conn_id, dataset="Readings", source=str(source), mode="insert"
    )
    importer.execute({})
    (table_out,) = importer.get_openlineage_facets_on_complete(None).outputs
    assert (table_out.namespace, table_out.name) == (
        f"cloudtables://{urlsplit(cloudtables_emulator.url).netloc}",
        dataset_id,
    )
    assert statistics(table_out) == (3, None)
    assert {f.name for f in table_out.facets["schema"].fields} >= {"code", "value"}
    assert DatasetteTableLink().get_link(importer, ti_key=None) == ""  # CloudTables has no page to link to
    assert cloudtables_emulator.api_key not in str(importer.lineage)
