r"""
The secrets one hook knows: masked in Airflow's logs, and scrubbed from every text the hook makes.

A value pasted with a trailing newline is kept without it as well: error texts often quote it with the
newline escaped (``'...\\n'``), which the exact value would not match. Values shorter than Airflow's
``[logging] min_length_masked_secret`` (5) are left alone, as Airflow's own masker does: scrubbing a
one-letter password would garble every message ("Ma*** retries e***ceeded") and hide nothing.
"""

from __future__ import annotations

from functools import cache

from airflow.sdk import conf
from airflow.sdk.log import amask_secret, mask_secret


@cache
def min_length() -> int:
    """Return the shortest value worth masking: Airflow's ``[logging] min_length_masked_secret``."""
    return conf.getint("logging", "min_length_masked_secret", fallback=5)


def _forms(value: str | None) -> set[str]:
    shortest = min_length()
    return {form for form in {value, (value or "").strip()} if form and len(form) >= shortest}


class Secrets:
    """A hook's secrets: the connection's password, and every token minted or received on its behalf."""

    def __init__(self) -> None:
        self._known: set[str] = set()

    def add(self, value: str | None) -> None:
        """Mask ``value`` in Airflow's logs and scrub it from this hook's texts."""
        for form in _forms(value):
            self._known.add(form)
            mask_secret(form)

    async def aadd(self, value: str | None) -> None:
        """:meth:`add`, the async-safe way (inside a trigger)."""
        for form in _forms(value):
            self._known.add(form)
            await amask_secret(form)

    def scrub(self, text: str) -> str:
        """Replace every known secret in ``text`` with ``***`` (longest first, so none shows in part)."""
        for secret in sorted(self._known, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text
