"""Asset URIs of the three schemes: normalizers, factories and the OpenLineage converter, as Airflow loads them."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from airflow.sdk import Asset

from airflow_provider_cloud import assets
from airflow_provider_cloud.get_provider_info import get_provider_info


@pytest.mark.parametrize(
    ("uri", "normalized"),
    [
        (
            "datasette://MySpace.Datasette.Cloud:443/data/people",
            "datasette://myspace.datasette.cloud/data/people",
        ),
        ("datasette://127.0.0.1:8001/data/people/", "datasette://127.0.0.1:8001/data/people"),
        ("datasette://host:80/My%20DB/Big%20Table", "datasette://host/My%20DB/Big%20Table"),
        ("cloudtables://ACME.cloudtables.io/People", "cloudtables://acme.cloudtables.io/People"),
        ("cloudtables://tables.example.com:8443/0c9e5b2a", "cloudtables://tables.example.com:8443/0c9e5b2a"),
        ("kloudless://kloudless_default/events", "kloudless://kloudless_default/events"),
        ("kloudless://123//reports//Out.csv", "kloudless://123/reports/Out.csv"),
    ],
)
def test_an_asset_normalizes_through_the_registered_normalizer(uri, normalized):
    assert Asset(uri).uri == normalized


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("datasette:///data/people", "has no host"),
        ("datasette://host/people", "must name a database and a table"),
        ("datasette://host/a/b/c", "must name a database and a table"),
        ("datasette://host:99999/a/b", "bad port"),
        ("cloudtables://host/", "must name one data set"),
        ("cloudtables://host/a/b", "must name one data set"),
        ("kloudless://acct:8080/files", "must name an account"),
        ("kloudless://acct/", "has no path"),
    ],
)
def test_a_bad_uri_is_refused_naming_the_form(uri, message):
    with pytest.raises(ValueError, match=message):
        assets._NORMALIZERS[urlsplit(uri).scheme](urlsplit(uri))


def test_an_asset_with_a_bad_uri_fails_at_definition():
    with pytest.raises(ValueError, match="must name a database and a table"):
        Asset("datasette://host/people")


def test_the_providers_manager_loads_all_three_schemes():
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    manager = ProvidersManagerTaskRuntime()
    for scheme in assets.SCHEMES:
        assert manager.asset_uri_handlers[scheme] is getattr(assets, f"normalize_{scheme}")
        assert manager.asset_to_openlineage_converters[scheme] is assets.convert_asset_to_openlineage


def test_provider_info_declares_handler_factory_and_converter():
    declared = {entry["schemes"][0]: entry for entry in get_provider_info()["asset-uris"]}
    assert sorted(declared) == sorted(assets.SCHEMES)
    assert declared["kloudless"]["factory"] == "airflow_provider_cloud.assets.create_kloudless_asset"


def test_factories_make_normalized_assets():
    assert (
        assets.create_datasette_asset(host="MySpace.datasette.cloud", database="data", table="people").uri
        == "datasette://myspace.datasette.cloud/data/people"
    )
    assert (
        assets.create_cloudtables_asset(host="acme.cloudtables.io", port=443, dataset="People").uri
        == "cloudtables://acme.cloudtables.io/People"
    )
    asset = assets.create_kloudless_asset(account="kloudless_default", path="/in/new.csv", extra={"k": 1})
    assert (asset.uri, asset.extra) == ("kloudless://kloudless_default/in/new.csv", {"k": 1})


def test_uris_from_base_urls_drop_user_info_and_scheme():
    assert (
        assets.datasette_uri("https://user:pw@Data.Example.org:443/prefix", "db", "t/x")
        == "datasette://data.example.org/db/t%2Fx"
    )
    assert assets.cloudtables_uri("http://127.0.0.1:5000", "abc") == "cloudtables://127.0.0.1:5000/abc"
    assert assets.public_base("https://user:pw@host:8001/base/?q=1") == "https://host:8001/base"


@pytest.mark.parametrize(
    ("uri", "namespace", "name"),
    [
        ("datasette://Host:8001/data/people", "datasette://host:8001", "data.people"),
        ("cloudtables://acme.cloudtables.io/People", "cloudtables://acme.cloudtables.io", "People"),
        ("kloudless://kloudless_default/in/new.csv", "kloudless://kloudless_default", "/in/new.csv"),
    ],
)
def test_the_converter_names_datasets_as_openlineage_does(uri, namespace, name):
    from airflow.providers.openlineage.utils.utils import translate_airflow_asset

    converted = assets.convert_asset_to_openlineage(Asset(uri), None)
    assert (converted.namespace, converted.name) == (namespace, name)
    through_provider = translate_airflow_asset(Asset(uri), None)  # the OpenLineage provider's own lookup
    assert through_provider is not None
    assert (through_provider.namespace, through_provider.name) == (namespace, name)


def test_the_asset_watcher_example_uri_is_registered():
    from airflow_provider_cloud.example_dags.example_kloudless_asset_watcher import new_files

    assert new_files.uri == "kloudless://kloudless_default/events"
    assert assets.openlineage_name(new_files.uri) == ("kloudless://kloudless_default", "/events")
