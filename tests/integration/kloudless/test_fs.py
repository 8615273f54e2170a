"""``kloudless://`` paths (``fs/kloudless.py``) against the Kloudless emulator over real HTTP."""

from __future__ import annotations

import io
import logging

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_cloud.fs.kloudless import KloudlessFileSystem, get_fs
from airflow_provider_cloud.hooks.kloudless import KloudlessHook

pytestmark = pytest.mark.integration


@pytest.fixture
def hook(kloudless_conn_id):
    return KloudlessHook(kloudless_conn_id)


@pytest.fixture
def tree(hook, tmp_path):
    """``reports/2026/a.csv`` (300 KB of numbered lines), ``reports/b.txt`` and ``top.txt`` in the account."""
    reports = hook.create_folder("reports")
    year = hook.create_folder("2026", parent_id=reports["id"])
    big = b"".join(f"line {n:06d}\n".encode() for n in range(25_000))
    files = {"a.csv": (big, year["id"]), "b.txt": (b"bee\n", reports["id"]), "top.txt": (b"top\n", "root")}
    for name, (data, parent) in files.items():
        local = tmp_path / name
        local.write_bytes(data)
        hook.upload_file(local, parent_id=parent)
    return {"big": big}


def path(rest: str, conn_id: str = "kloudless_default") -> ObjectStoragePath:
    return ObjectStoragePath(f"kloudless://{conn_id}@me/{rest}")


def test_the_scheme_is_registered_and_the_path_reaches_the_connection(kloudless_conn_id, tree):
    top = path("top.txt")

    assert isinstance(top.fs, KloudlessFileSystem)
    assert top.fs.conn_id == kloudless_conn_id
    assert top.read_bytes() == b"top\n"


def test_ls_and_info_name_folders_and_files_by_path(kloudless_conn_id, tree):
    fs = get_fs(kloudless_conn_id)

    assert fs.ls("me", detail=False) == ["me/reports", "me/top.txt"]
    assert sorted(fs.ls("me/reports", detail=False)) == ["me/reports/2026", "me/reports/b.txt"]
    info = fs.info("me/reports/2026/a.csv")
    assert (info["type"], info["size"], info["name"]) == ("file", len(tree["big"]), "me/reports/2026/a.csv")
    assert fs.info("me/reports")["type"] == "directory"
    assert fs.isdir("me/reports/2026")
    assert fs.isfile("me/reports/b.txt")
    assert sorted(fs.find("me")) == ["me/reports/2026/a.csv", "me/reports/b.txt", "me/top.txt"]
    assert fs.glob("me/reports/*.txt") == ["me/reports/b.txt"]
    assert sorted(p.name for p in path("reports").iterdir()) == ["2026", "b.txt"]


def test_a_whole_read_and_ranged_reads_return_the_right_bytes(kloudless_conn_id, tree, kloudless_emulator):
    big = tree["big"]
    fs = get_fs(kloudless_conn_id, {"block_size": 64 * 1024})
    seen_before = len(kloudless_emulator.requests_seen)

    with fs.open("me/reports/2026/a.csv", "rb") as handle:
        assert handle.read() == big
    with fs.open("me/reports/2026/a.csv", "rb") as handle:
        handle.seek(100_003)
        assert handle.read(25) == big[100_003:100_028]
        handle.seek(-11, io.SEEK_END)
        assert handle.read() == big[-11:]
    assert fs.cat_file("me/reports/2026/a.csv", start=5, end=17) == big[5:17]

    ranges = [
        entry["headers"].get("Range")
        for entry in kloudless_emulator.requests_seen[seen_before:]
        if "/storage/files/" in entry["path"] and entry["path"].endswith("/contents")
    ]
    assert ranges[0] == f"bytes=0-{len(big) - 1}"
    spans = [tuple(int(n) for n in r.removeprefix("bytes=").split("-")) for r in ranges[1:]]
    assert len(spans) == 3
    assert all(last - first < 70 * 1024 for first, last in spans)  # blocks, not the whole file
    assert [spans[0][0], spans[1][1], spans[2][0]] == [100_003, len(big) - 1, 5]


def test_write_then_read_back_and_wb_replaces_xb_refuses(kloudless_conn_id, tree):
    target = path("reports/new.csv")

    with target.open("wb") as out:
        out.write(b"id,name\n")
        out.write(b"1,Ada\n")
    assert target.read_bytes() == b"id,name\n1,Ada\n"

    target.write_bytes(b"id\n2\n")
    assert target.read_bytes() == b"id\n2\n"
    assert target.fs.ls("me/reports", detail=False).count("me/reports/new.csv") == 1

    with pytest.raises(FileExistsError, match="me/reports/new.csv"):
        with target.fs.open(target.path, "xb") as out:
            out.write(b"no")
    assert target.read_bytes() == b"id\n2\n"


def test_a_write_that_fails_uploads_nothing(kloudless_conn_id, tree):
    fs = get_fs(kloudless_conn_id)
    fs.pipe_file("me/reports/kept.csv", b"old\n")

    def write_then_fail(where: str, data: bytes) -> None:
        with fs.open(where, "wb") as out:
            out.write(data)
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        write_then_fail("me/reports/kept.csv", b"new, half written")
    with pytest.raises(RuntimeError, match="stop"):
        write_then_fail("me/reports/never.csv", b"x" * 10)

    assert fs.cat_file("me/reports/kept.csv") == b"old\n"
    assert not fs.exists("me/reports/never.csv")


def test_a_write_larger_than_a_block_is_uploaded_whole(kloudless_conn_id, tree):
    fs = get_fs(kloudless_conn_id)
    data = bytes(range(256)) * 5000  # 1.28 MB, written in 100 KB blocks

    with fs.open("me/reports/blob.bin", "wb", block_size=100_000) as out:
        for start in range(0, len(data), 7777):
            out.write(data[start : start + 7777])

    assert fs.info("me/reports/blob.bin")["size"] == len(data)
    assert fs.cat_file("me/reports/blob.bin") == data


def test_the_readmes_path_example(kloudless_conn_id, tree):
    folder = path("reports/made")
    folder.mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "x.txt").write_text("xyz")

    assert [(item.name, item.stat()["size"]) for item in folder.iterdir()] == [("x.txt", 3)]
    with pytest.raises(FileExistsError, match="me/reports/made"):
        folder.mkdir()


def test_mkdir_rm_and_mv(kloudless_conn_id, tree, kloudless_emulator):
    fs = get_fs(kloudless_conn_id)

    fs.makedirs("me/made/deeper", exist_ok=True)
    assert fs.isdir("me/made/deeper")
    fs.pipe_file("me/made/deeper/x.txt", b"x")
    fs.mv("me/made/deeper/x.txt", "me/made/y.txt")
    assert fs.cat_file("me/made/y.txt") == b"x"
    assert not fs.exists("me/made/deeper/x.txt")

    with pytest.raises(IsADirectoryError, match="the destination is a folder"):
        fs.mv("me/made/y.txt", "me/made/deeper")
    with pytest.raises(NotImplementedError, match="only a file, within one account"):
        fs.mv("me/made/deeper", "me/made/elsewhere")
    fs.pipe_file("me/made/z.txt", b"z")
    fs.mv("me/made/z.txt", "me/made/y.txt")  # replaces the file there
    assert fs.cat_file("me/made/y.txt") == b"z"
    assert fs.ls("me/made", detail=False) == ["me/made/deeper", "me/made/y.txt"]

    fs.rm("me/reports/b.txt")
    assert not fs.exists("me/reports/b.txt")
    seen_before = len(kloudless_emulator.requests_seen)
    fs.rm("me/made", recursive=True)
    deletes = [e for e in kloudless_emulator.requests_seen[seen_before:] if e["method"] == "DELETE"]
    assert [(e["query"], e["path"].split("/storage/")[1][:7]) for e in deletes] == [
        ({"recursive": ["true"]}, "folders")
    ]
    assert not fs.exists("me/made")
    assert fs.ls("me", detail=False) == ["me/reports", "me/top.txt"]


def test_a_listing_is_cached_and_dropped_on_writes(kloudless_conn_id, tree, kloudless_emulator):
    fs = get_fs(kloudless_conn_id)
    fs.ls("me/reports")
    before = len(kloudless_emulator.requests_seen)
    fs.info("me/reports/b.txt")
    fs.exists("me/reports/2026/a.csv")  # 2026 is listed once, then cached
    fs.exists("me/reports/2026/a.csv")
    assert len(kloudless_emulator.requests_seen) == before + 1

    fs.pipe_file("me/reports/c.txt", b"c")
    assert fs.exists("me/reports/c.txt")


def test_missing_paths_name_the_path(kloudless_conn_id, tree):
    fs = get_fs(kloudless_conn_id)

    with pytest.raises(FileNotFoundError, match=r"kloudless://me/reports/none\.csv"):
        fs.open("me/reports/none.csv", "rb")
    with pytest.raises(FileNotFoundError, match=r"kloudless://me/nowhere"):
        fs.ls("me/nowhere/deeper")
    with pytest.raises(FileNotFoundError, match=r"kloudless://me/nowhere: no such folder to write 'x\.csv'"):
        fs.pipe_file("me/nowhere/x.csv", b"x")
    with pytest.raises(NotADirectoryError, match="top.txt"):
        fs.ls("me/top.txt/inner")
    with pytest.raises(IsADirectoryError, match="me/reports"):
        fs.open("me/reports", "rb")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("kloudless://kloudless_default@/reports/a.csv", "names no account"),
        ("kloudless://kloudless_default@someone/a.csv", "neither me nor a numeric id"),
        ("kloudless://kloudless_default@me/reports//a.csv", "empty"),
    ],
)
def test_a_bad_url_is_refused_with_the_url_form(kloudless_conn_id, url, message):
    fs = get_fs(kloudless_conn_id)

    with pytest.raises(ValueError, match=message):
        fs.info(url)


def test_no_secret_in_repr_str_errors_or_logs(kloudless_conn_id, kloudless_token, tree, caplog):
    caplog.set_level(logging.DEBUG)
    fs = get_fs(kloudless_conn_id)
    top = path("top.txt")
    texts = [repr(fs), str(fs), repr(top), str(top)]
    fs.cat_file("me/top.txt")
    fs.pipe_file("me/secret-check.txt", b"x")
    with pytest.raises(FileNotFoundError) as missing:
        fs.info("me/none")
    texts.append(str(missing.value))

    assert all(kloudless_token not in text for text in texts)
    assert kloudless_token not in caplog.text
    assert "kloudless_default" in repr(fs)


def test_items_changed_by_others_after_a_listing(kloudless_conn_id, hook, tree):
    fs = get_fs(kloudless_conn_id)
    b_id = fs.info("me/reports/b.txt")["id"]
    year_id = fs.info("me/reports/2026")["id"]
    handle = fs.open("me/reports/b.txt", "rb")
    hook.delete_file(b_id)

    with pytest.raises(FileNotFoundError, match=r"kloudless://me/reports/b\.txt: the file is gone"):
        handle.read()
    handle.close()

    hook.delete_folder(year_id, recursive=True)
    again = hook.create_folder("2026", parent_id=fs.info("me/reports")["id"])
    # the parent's cached listing still holds the old id: its 404 makes the path be resolved again, from the root
    assert fs.ls("me/reports/2026") == []
    assert fs.info("me/reports/2026")["id"] == again["id"]
