"""
Plain Kloudless uploads through a bad network: lost answers are reconciled, so every upload ends on its first try.

The emulator answers every request; :class:`LossyAdapter` on the hook's session injects 429s (5 %), 503s (5 %),
resets before forwarding (3 %) and answers lost after the emulator acted (3 %), by a fixed seed.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_cloud.hooks.kloudless import KloudlessHook
from tests.integration.kloudless.lossy_transport import FaultRates, LossyAdapter

pytestmark = pytest.mark.integration

UPLOADS = 300


@pytest.fixture
def sources() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kl-upload-faults-") as folder:
        yield Path(folder)


@pytest.mark.parametrize("seed", [13, 2026])
def test_300_plain_uploads_through_lost_answers_all_end_on_the_first_try(
    kloudless_emulator, kloudless_account_id, kloudless_conn_id, sources, seed
):
    folder = kloudless_emulator.add_folder(kloudless_account_id, "inbox")
    kloudless_emulator.add_file(kloudless_account_id, "unrelated.csv", b"x", parent_id=folder["id"])
    rng = random.Random(seed)
    contents = {f"part-{n:03d}.csv": rng.randbytes(rng.randint(1, 4096)) for n in range(UPLOADS)}
    for name, content in contents.items():
        (sources / name).write_bytes(content)
    hook = KloudlessHook(kloudless_conn_id)
    hook._sleep = lambda seconds: None
    lossy = LossyAdapter(seed).mount(hook.session)
    try:
        uploaded = {name: hook.upload_file(sources / name, parent_id=folder["id"]) for name in contents}
    finally:
        hook.close()

    for name, metadata in uploaded.items():  # each call returned the file: none needed a second try
        assert metadata["name"] == name
        assert kloudless_emulator.file_content(kloudless_account_id, metadata["id"]) == contents[name]
    added = [
        e["metadata"]["name"] for e in kloudless_emulator.events(kloudless_account_id) if e["type"] == "add"
    ]
    assert sorted(added) == sorted(["inbox", "unrelated.csv", *contents])  # each file made once
    counts = hook.counts
    assert lossy.count("lost", "POST") > 0
    assert lossy.count("reset", "POST") > 0
    assert counts.reconciled == lossy.count("lost", "POST")  # made, answer lost: found, not sent again
    assert counts.resent == lossy.count("reset", "POST")  # never reached the service: sent again
    print(
        f"\nseed {seed}: {UPLOADS} uploads, {lossy.requests} requests, faults {dict(lossy.injected)}, "
        f"hook {counts.as_dict()}"
    )


def test_the_fault_draw_is_the_same_for_a_seed():
    first, second = LossyAdapter(7, FaultRates()), LossyAdapter(7, FaultRates())
    assert [first._random.random() for _ in range(5)] == [second._random.random() for _ in range(5)]
