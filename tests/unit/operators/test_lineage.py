"""OpenLineage facts to datasets: names per the naming spec, schema, statistics and lifecycle facets."""

from __future__ import annotations

import pytest
from airflow.sdk import Asset

from airflow_provider_cloud.operators._lineage import (
    LineageFacts,
    LineagePlace,
    kloudless_account,
    openlineage_dataset_name,
    operator_lineage,
)


@pytest.mark.parametrize(
    ("uri", "namespace", "name"),
    [
        ("file:///tmp/in/people.csv", "file", "/tmp/in/people.csv"),
        ("/tmp/in/people.csv", "file", "/tmp/in/people.csv"),
        ("s3://bucket/day/people.csv", "s3://bucket", "day/people.csv"),
        ("gs://bucket/people.jsonl", "gs://bucket", "people.jsonl"),
        ("memory://box/a.csv", "memory://box", "a.csv"),
        ("datasette://127.0.0.1:8001/data/people", "datasette://127.0.0.1:8001", "data.people"),
    ],
)
def test_dataset_names(uri, namespace, name):
    assert openlineage_dataset_name(uri) == (namespace, name)


def test_a_file_is_named_as_the_common_io_provider_names_it():
    from airflow.providers.common.io.assets.file import convert_asset_to_openlineage

    theirs = convert_asset_to_openlineage(Asset("file:///tmp/in/people.csv"), None)
    assert openlineage_dataset_name("file:///tmp/in/people.csv") == (theirs.namespace, theirs.name)


def test_facets_of_recorded_facts():
    facts = LineageFacts(
        inputs=(LineagePlace("file:///tmp/p.csv", (("id", "integer"), ("name", None)), rows=3, size=40),),
        outputs=(
            LineagePlace("datasette://h:8001/data/p", (("id", "INTEGER"),), rows=2, lifecycle="CREATE"),
        ),
    )
    lineage = operator_lineage(facts)
    (source,), (table,) = lineage.inputs, lineage.outputs
    assert (source.namespace, source.name) == ("file", "/tmp/p.csv")
    assert [(f.name, f.type) for f in source.facets["schema"].fields] == [("id", "integer"), ("name", None)]
    stats = source.inputFacets["inputStatistics"]
    assert (stats.rowCount, stats.size) == (3, 40)
    assert (table.namespace, table.name) == ("datasette://h:8001", "data.p")
    assert table.outputFacets["outputStatistics"].rowCount == 2
    assert table.facets["lifecycleStateChange"].lifecycleStateChange.value == "CREATE"


def test_no_facts_no_datasets():
    lineage = operator_lineage(None)
    assert (lineage.inputs, lineage.outputs) == ([], [])


def test_kloudless_account_is_the_numeric_id_else_the_connection():
    assert kloudless_account("kloudless_default", None) == "kloudless_default"
    assert kloudless_account("kloudless_default", "me") == "kloudless_default"
    assert kloudless_account("kloudless_default", 42) == "42"


def test_the_operators_and_assets_work_without_openlineage_installed():
    """Blocked imports (the OpenLineage client, the provider's extractors) stand in for a machine without them."""
    import subprocess
    import sys

    code = "\n".join(
        [
            "import sys",
            "sys.modules['openlineage'] = None",
            "sys.modules['airflow.providers.openlineage.extractors'] = None",
            "from airflow.sdk import Asset",
            "from airflow_provider_cloud.operators.rows import ImportRowsOperator, CleanupRowsOperator",
            "from airflow_provider_cloud.operators.kloudless import KloudlessUploadFileOperator",
            "ImportRowsOperator(task_id='i', conn_id='c', dataset='t', source='/x.csv')",
            "print(Asset('datasette://Host:443/db/t').uri)",
            "try:",
            "    import openlineage",
            "except ImportError:",
            "    print('blocked')",
        ]
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True
    )
    assert done.stdout.split() == ["datasette://host/db/t", "blocked"]
