"""
What the Kloudless v1 API has and the emulator does not serve: answered 501 ``not_implemented``, never a 404.

A client cannot tell a 404 "No such endpoint" from a missing file, so a path the API has but the emulator does
not serve, and a query parameter it would silently ignore, answer 501 naming what is missing. Paths the API
does not have stay 404. [I] The 501 comes before the credentials are checked: there is nothing to check them
for. The list is the "Not implemented" list of ``testing/kloudless.py`` (a test keeps the two equal).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from airflow_provider_cloud.testing._kloudless.errors import KloudlessApiError, api_error

_ALL = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_ACCOUNT = r"/accounts/(?:\d+|me)"
_ITEM = _ACCOUNT + r"/storage/(?:files|folders)/[^/]+"

#: (path under ``/vN``, methods, what it is), checked before the served routes.
UNSERVED: tuple[tuple[re.Pattern[str], frozenset[str], str], ...] = tuple(
    (re.compile(pattern), methods, what)
    for pattern, methods, what in (
        (r"/accounts/?", frozenset({"POST"}), "importing an account (its upstream credentials)"),
        (r"/accounts/(?:\d+|me)(?:,(?:\d+|me))+(?:/.*)?", _ALL, "comma-separated account ids"),
        (r"/meta(?:/.*)?", _ALL, "the Meta API"),
        (r"/applications(?:/.*)?", _ALL, "the Management API (applications, API keys, webhooks)"),
        (r"/public/services(?:/[^/]+)?/?", _ALL, "the services list"),
        (_ACCOUNT + r"/storage/search/?", _ALL, "storage search"),
        (_ACCOUNT + r"/storage/recent/?", _ALL, "recent files"),
        (_ACCOUNT + r"/storage/links(?:/[^/]+)?/?", _ALL, "links"),
        (_ACCOUNT + r"/storage/multipart(?:/.*)?", _ALL, "multipart uploads"),
        (_ACCOUNT + r"/storage/quota/?", _ALL, "quotas"),
        (_ACCOUNT + r"/storage/files/upload_url/?", frozenset({"POST"}), "upload URLs"),
        (_ACCOUNT + r"/storage/convert_id/?", _ALL, "id conversion"),
        (_ACCOUNT + r"/encode_raw_id/?", _ALL, "raw id encoding"),
        (_ITEM + r"/copy/?", _ALL, "copying files and folders"),
        (_ITEM + r"/(?:links|permissions|properties)(?:/.*)?", _ALL, "links, permissions and properties"),
        (_ACCOUNT + r"/storage/files/[^/]+/thumbnail/?", _ALL, "thumbnails"),
        (_ACCOUNT + r"/tasks(?:/.*)?", _ALL, "the Task API"),
        (_ACCOUNT + r"/team(?:/.*)?", _ALL, "the Team API (users, groups)"),
        (_ACCOUNT + r"/crm(?:/.*)?", _ALL, "the CRM API"),
        (_ACCOUNT + r"/cal/calendars/?", frozenset({"POST"}), "creating calendars"),
        (
            _ACCOUNT + r"/cal/calendars/[^/]+/?",
            frozenset({"PATCH", "DELETE"}),
            "updating or deleting calendars",
        ),
        (_ACCOUNT + r"/cal/calendars/[^/]+/events/[^/]+/?", frozenset({"PATCH"}), "updating calendar events"),
    )
)

#: (path under ``/vN``, query parameters the emulator would otherwise ignore, what they are).
UNSERVED_PARAMETERS: tuple[tuple[re.Pattern[str], frozenset[str], str], ...] = (
    (re.compile(_ACCOUNT + r"/events/?"), frozenset({"upstream_cursor"}), "upstream cursors"),
    (
        re.compile(_ACCOUNT + r"/cal/calendars/[^/]+/events/?"),
        frozenset({"start", "end"}),
        "time filters of calendar events",
    ),
)


def not_implemented(what: str, method: str, path: str) -> KloudlessApiError:
    """Return the 501 ``not_implemented`` error naming what the emulator does not serve."""
    return api_error("not_implemented", f"{method} {path}: {what} is not implemented by this emulator.")


def check_served(method: str, rest: str, path: str, query: Mapping[str, list[str]]) -> None:
    """Raise 501 for a path (``rest``, under ``/vN``) or query parameter the API has and the emulator lacks."""
    for pattern, methods, what in UNSERVED:
        if method in methods and pattern.fullmatch(rest):
            raise not_implemented(what, method, path)
    for pattern, names, what in UNSERVED_PARAMETERS:
        if names & query.keys() and pattern.fullmatch(rest):
            raise not_implemented(what, method, path)
