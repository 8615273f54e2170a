"""Filesystems registered with Airflow's object storage: ``kloudless://`` (``fs.kloudless``)."""
