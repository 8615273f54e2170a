from __future__ import annotations

import gzip
import os
import pathlib
import time

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_cloud.rows import as_storage_path, atomic_writer, open_for_read
from airflow_provider_cloud.rows.paths import remove_stale_temporaries
from tests.unit.rows.rows_helpers import get, names_in, put


class Boom(Exception):
    pass


def write_then_fail(url, error: type[BaseException], data: bytes = b"half") -> None:
    with atomic_writer(url) as handle:
        handle.write(data)
        raise error


def test_relative_local_path_becomes_absolute_file_url(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = as_storage_path("data/in.csv")
    assert path.protocol == "file"
    assert path.path == str(tmp_path / "data" / "in.csv")
    assert str(path) == f"file://{tmp_path}/data/in.csv"


def test_absolute_path_pathlike_and_file_url_agree(tmp_path):
    target = tmp_path / "a b" / "x.csv"
    urls = {str(as_storage_path(p)) for p in (str(target), target, target.as_uri().replace("%20", " "))}
    assert urls == {f"file://{target}"}


def test_plain_object_storage_path_is_made_a_file_url(tmp_path):
    path = as_storage_path(ObjectStoragePath(str(tmp_path / "x.csv")))
    assert path.protocol == "file"
    assert path.path == str(tmp_path / "x.csv")


def test_memory_url_is_usable_without_airflow_registration(memory_dir):
    path = as_storage_path(f"{memory_dir}/x.txt")
    assert path.protocol == "memory"
    path.fs.pipe(path.path, b"hello")
    assert path.read_bytes() == b"hello"


def test_object_storage_path_passes_through(memory_dir):
    given = ObjectStoragePath(f"{memory_dir}/x.txt")
    assert as_storage_path(given) is given


def test_unknown_scheme_is_a_clear_error():
    with pytest.raises(ValueError, match=r"nosuchscheme://.*cannot open nosuchscheme:// paths"):
        as_storage_path("nosuchscheme://bucket/key.csv")


def test_connection_on_scheme_without_airflow_filesystem_is_refused():
    with pytest.raises(ValueError, match="connection 'my_conn' cannot be used"):
        as_storage_path("memory://bucket/key.csv", conn_id="my_conn")


def test_open_for_read_decompresses_gz_by_name(any_dir):
    put(f"{any_dir}/a.txt.gz", gzip.compress(b"zipped text"))
    put(f"{any_dir}/b.txt", b"plain text")
    with open_for_read(f"{any_dir}/a.txt.gz") as handle:
        assert handle.read() == b"zipped text"
    with open_for_read(f"{any_dir}/b.txt") as handle:
        assert handle.read() == b"plain text"


def test_open_for_read_missing_file(any_dir):
    with pytest.raises(FileNotFoundError), open_for_read(f"{any_dir}/missing.csv"):
        pass


def test_open_for_read_directory(tmp_path):
    with pytest.raises(IsADirectoryError), open_for_read(tmp_path):
        pass


def test_atomic_writer_writes_and_replaces(any_dir):
    url = put(f"{any_dir}/out.bin", b"old content")
    with atomic_writer(url) as handle:
        handle.write(b"new content")
    assert get(url) == b"new content"
    assert names_in(any_dir) == ["out.bin"]


def test_atomic_writer_uses_hidden_temporary_sibling_until_done(any_dir):
    url = f"{any_dir}/out.bin"
    with atomic_writer(url) as handle:
        handle.write(b"partial")
        handle.flush()
        during = names_in(any_dir)
    assert len(during) == 1
    assert during[0].startswith(".out.bin.")
    assert during[0].endswith(".tmp")
    assert names_in(any_dir) == ["out.bin"]


def test_atomic_writer_gzips_when_name_ends_in_gz(any_dir):
    url = f"{any_dir}/out.txt.gz"
    with atomic_writer(url) as handle:
        handle.write(b"compressed " * 100)
    stored = get(url)
    assert stored[:2] == b"\x1f\x8b"
    assert len(stored) < 100
    assert gzip.decompress(stored) == b"compressed " * 100


def test_atomic_writer_keeps_bytes_as_given_when_told_not_to_compress(any_dir):
    url = f"{any_dir}/download.csv.gz"
    payload = gzip.compress(b"already compressed")
    with atomic_writer(url, compress=False) as handle:
        handle.write(payload)
    assert get(url) == payload


def test_atomic_writer_failure_leaves_no_file_and_no_temporary(any_dir):
    url = f"{any_dir}/out.bin"
    with pytest.raises(Boom):
        write_then_fail(url, Boom)
    assert names_in(any_dir) == []


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_atomic_writer_failure_keeps_existing_destination(any_dir, error):
    url = put(f"{any_dir}/out.csv.gz", b"precious")
    with pytest.raises(error):
        write_then_fail(url, error, b"replacement that fails")
    assert get(url) == b"precious"
    assert names_in(any_dir) == ["out.csv.gz"]


def test_atomic_writer_exclusive_mode(any_dir):
    url = put(f"{any_dir}/out.bin", b"exists")
    with pytest.raises(FileExistsError), atomic_writer(url, mode="xb"):
        pass
    assert get(url) == b"exists"
    with atomic_writer(f"{any_dir}/new.bin", mode="xb") as handle:
        handle.write(b"fresh")
    assert get(f"{any_dir}/new.bin") == b"fresh"


def test_atomic_writer_rejects_other_modes(any_dir):
    with pytest.raises(ValueError, match="'wb' or 'xb'"), atomic_writer(f"{any_dir}/x", mode="ab"):
        pass


def test_atomic_writer_creates_local_parent_directories(tmp_path):
    target = tmp_path / "deep" / "er" / "out.txt"
    with atomic_writer(target) as handle:
        handle.write(b"ok")
    assert target.read_bytes() == b"ok"


def test_atomic_writer_refuses_a_directory_destination(tmp_path):
    with pytest.raises(IsADirectoryError), atomic_writer(tmp_path):
        pass
    assert os.listdir(tmp_path) == []


def test_atomic_writer_falls_back_to_copy_when_move_is_unsupported(memory_dir, monkeypatch):
    url = put(f"{memory_dir}/out.bin", b"old")
    fs = as_storage_path(url).fs

    def no_move(*args, **kwargs):
        raise NotImplementedError

    monkeypatch.setattr(fs, "mv", no_move)
    with atomic_writer(url) as handle:
        handle.write(b"copied into place")
    assert get(url) == b"copied into place"
    assert names_in(memory_dir) == ["out.bin"]


def test_atomic_writer_accepts_pathlib(tmp_path):
    target = pathlib.Path(tmp_path) / "p.txt"
    with atomic_writer(target) as handle:
        handle.write(b"x")
    assert target.read_bytes() == b"x"


# --- leftovers of killed writers -----------------------------------------------------------------

LEFTOVER = ".out.csv.0123456789abcdef.tmp"


def age(path: pathlib.Path, seconds: float) -> None:
    stamp = path.stat().st_mtime - seconds
    os.utime(path, (stamp, stamp))


def test_a_killed_writers_temporary_is_removed_by_the_next_write_to_the_destination(tmp_path):
    (tmp_path / LEFTOVER).write_bytes(b"x" * 1000)  # what a SIGKILL mid-write leaves
    age(tmp_path / LEFTOVER, 301)
    with atomic_writer(tmp_path / "out.csv") as handle:
        handle.write(b"a\n1\n")
    assert names_in(tmp_path.as_uri()) == ["out.csv"]


def test_only_old_temporaries_of_this_destination_are_removed(tmp_path):
    names = {
        LEFTOVER: 3600,  # stale: removed
        ".out.csv.fedcba9876543210.tmp": 60,  # a writer still at work: kept
        ".other.csv.0123456789abcdef.tmp": 3600,  # another destination's: kept
        ".out.csv.backup.tmp": 3600,  # not the pattern: kept
        "out.csv.0123456789abcdef.tmp": 3600,  # not hidden: kept
        ".out.csv.0123456789ABCDEF.tmp": 3600,  # not the pattern (upper case): kept
    }
    for name, seconds in names.items():
        (tmp_path / name).write_text(name)
        age(tmp_path / name, seconds)
    (tmp_path / ".out.csv.aaaaaaaaaaaaaaaa.tmp").mkdir()  # a directory of that name: kept
    removed = remove_stale_temporaries(as_storage_path(tmp_path / "out.csv"))
    assert removed == [str(tmp_path / LEFTOVER)]
    assert not (tmp_path / LEFTOVER).exists()
    assert {p.name for p in tmp_path.iterdir()} == ({*names} - {LEFTOVER}) | {".out.csv.aaaaaaaaaaaaaaaa.tmp"}


def test_stale_temporaries_on_object_storage(memory_dir):
    put(f"{memory_dir}/{LEFTOVER}", b"x")
    put(f"{memory_dir}/.out.csv.fedcba9876543210.tmp", b"y")
    path = as_storage_path(f"{memory_dir}/out.csv")
    assert remove_stale_temporaries(path) == []  # both are new
    later = time.time() + 301
    removed = remove_stale_temporaries(path, now=later)
    assert sorted(r.rsplit("/", 1)[-1] for r in removed) == [LEFTOVER, ".out.csv.fedcba9876543210.tmp"]
    assert names_in(memory_dir) == []


def test_no_parent_directory_yet_is_nothing_to_remove(tmp_path):
    assert remove_stale_temporaries(as_storage_path(tmp_path / "new" / "out.csv")) == []
