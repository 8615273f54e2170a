"""
Example DAGs of airflow-provider-cloud: each file is a complete DAG that runs against the real services.

- ``example_datasette_rows``: a scheduled CSV import into Datasette, an incremental JSON Lines export after
  the stored cursor, and a retention clean-up;
- ``example_cloudtables_embed``: rows into a CloudTables data set, an embed token, an HTML page with the
  ``<script>`` tag;
- ``example_kloudless_events``: a deferrable sensor waits for new Kloudless files after the stored cursor,
  the CSV files are downloaded and imported into Datasette, then the cursor is committed;
- ``example_kloudless_asset_watcher``: the same reaction, scheduled by an ``AssetWatcher``;
- ``example_kloudless_archive``: the rows past their retention are exported to CSV, uploaded into a Kloudless
  folder, then deleted (a dry run first, and never more rows than the archive holds).

``sample_data`` writes the sample data they expect; ``make demo`` runs them all against local servers.
"""
