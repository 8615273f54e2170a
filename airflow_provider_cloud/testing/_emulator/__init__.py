"""
What both emulators share: the HTTP server and its thread, faults and latency, the error base, requests and replies.

A service package (``_cloudtables``, ``_kloudless``) brings its routes, backend and error shapes; nothing here
knows a service.
"""

from __future__ import annotations
