"""The pieces of :class:`~airflow_provider_cloud.testing.datasette.DatasetteServer`: the process, and its tokens."""
