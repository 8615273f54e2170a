"""
The keep-alive session of a hook, and the proxies and CA bundle it takes from the environment.

The session does not read the environment itself (``trust_env`` off): left to requests, every request
would scan all of ``os.environ`` for proxy variables, twice. :class:`EnvironmentCache` reads it once per
scheme and host instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import requests

from airflow_provider_cloud import __version__

USER_AGENT = f"airflow-provider-cloud/{__version__} python-requests/{requests.__version__}"


def new_session(headers: Mapping[str, str], verify: bool | str, *, pool: int = 1) -> requests.Session:
    """
    Return a session that sends ``headers`` (authentication) and JSON ``Accept`` on every request.

    Its pools keep ``pool`` connections per host (and block rather than open more), one for each request of a
    window in flight: requests' own default of 10 would open and drop connections beyond it.
    """
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=max(pool, 1), pool_block=True)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    session.headers.update(headers)
    session.verify = verify
    session.trust_env = False
    return session


class EnvironmentCache:
    """
    The proxies and TLS verification of each URL's scheme and host, as requests takes them from the environment.

    ``HTTPS_PROXY``, ``NO_PROXY`` and the like, and ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` when
    verification is on without a bundle of the connection's own.
    """

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], tuple[dict[str, str], bool | str]] = {}

    def for_url(self, url: str, verify: bool | str) -> tuple[dict[str, str], bool | str]:
        """Return ``(proxies, verify)`` for ``url``; read once per scheme and host."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        found = self._found.get(key)
        if found is None:
            proxies = requests.utils.get_environ_proxies(url)
            if verify is True:
                verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            found = self._found[key] = (dict(proxies), verify)
        return found
