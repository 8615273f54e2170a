"""A CloudTables schema body for the unit tests: Airports with a computed label, Flights linking to them."""

from __future__ import annotations

from airflow_provider_cloud.hooks.cloudtables.schema import DatasetSchema

AIRPORTS_ID = "0b7c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3"
AIRPORTS = {
    "name": "Airports",
    "datapoints": [
        {"id": "dp-1", "name": "Name", "type": "text"},
        {"id": "dp-2", "name": "Runways", "type": "number"},
        {"id": "dp-3", "name": "id", "type": "text"},  # shadows the row id: keeps its own id as key
    ],
    "links": [],
    "computed": [{"id": "c-1", "name": "Label"}],
}


def airports() -> DatasetSchema:
    return DatasetSchema(AIRPORTS_ID, AIRPORTS)


def flights() -> DatasetSchema:
    return DatasetSchema(
        "flights-id",
        {
            "name": "Flights",
            "datapoints": [{"id": "dp-8", "name": "Code", "type": "text"}],
            "links": [
                {
                    "id": "l-1",
                    "name": "Departure",
                    "target": {"id": AIRPORTS_ID},
                    "datapoints": [{"id": "dp-1", "name": "Name"}],
                }
            ],
        },
    )
