"""The embed token's XCom: whichever process reads it back masks the token before anything renders or logs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from airflow.sdk.bases.xcom import BaseXCom

from airflow_provider_cloud.operators._embed_access import EmbedAccess

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "embed-token-0123456789abcdef"
VALUE = {
    "token": TOKEN,
    "script_tag": f'<script src="https://acme.cloudtables.io/loader/d/table/d" data-token="{TOKEN}"></script>',
    "dataset_id": "d",
    "expires_in": 600,
}

READER = """
import json, sys
{imports}
from airflow.sdk.serde import deserialize
from airflow.sdk.log import redact
value = deserialize(json.loads(sys.stdin.read()))
print(json.dumps({{"value": value, "redacted": redact(value["script_tag"]), "returned": redact(str(value))}}))
"""


def read_in_a_fresh_process(stored: object, imports: str) -> subprocess.CompletedProcess[str]:
    """Read a stored XCom value the way a task of another process does: nothing of the minting process known."""
    return subprocess.run(
        [sys.executable, "-c", READER.format(imports=imports)],
        input=json.dumps(stored),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_stored_value_is_marked_and_reads_back_as_the_plain_dict():
    stored = BaseXCom.serialize_value(EmbedAccess(VALUE))
    assert stored["__classname__"] == "airflow_provider_cloud.operators._embed_access.EmbedAccess"
    assert stored["__data__"] == VALUE
    assert "***" in repr(EmbedAccess(VALUE))
    assert TOKEN not in repr(EmbedAccess(VALUE))


def test_a_task_in_another_process_that_reads_the_xcom_masks_the_token():
    stored = BaseXCom.serialize_value(EmbedAccess(VALUE))
    run = read_in_a_fresh_process(stored, "import airflow_provider_cloud.operators.cloudtables")
    assert run.returncode == 0, run.stderr[-2000:]
    read = json.loads(run.stdout.strip().splitlines()[-1])
    assert read["value"] == VALUE  # the task gets what the operator built
    assert TOKEN not in read["redacted"]
    assert 'data-token="***"' in read["redacted"]  # a rendered field or "Returned value was: ..." line
    assert TOKEN not in read["returned"]


def test_a_plain_dict_would_have_leaked_in_that_process():
    # The same reader on the value as it was stored before: the token shows in clear.
    run = read_in_a_fresh_process(VALUE, "import airflow_provider_cloud.operators.cloudtables")
    assert run.returncode == 0, run.stderr[-2000:]
    assert TOKEN in json.loads(run.stdout.strip().splitlines()[-1])["redacted"]


def test_a_process_that_never_imported_the_operator_is_told_what_to_allow():
    stored = BaseXCom.serialize_value(EmbedAccess(VALUE))
    run = read_in_a_fresh_process(stored, "")
    assert run.returncode != 0
    assert "allowed_deserialization_classes" in run.stderr
    assert TOKEN not in run.stderr
