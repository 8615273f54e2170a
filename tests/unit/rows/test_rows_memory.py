"""
Memory stays flat whatever the row count: a memory bound, measured with tracemalloc (not a timing test).

One pass writes, then reads, 200,000 CSV rows; the peak of traced memory is sampled after 50,000 rows
and at the end. A reader or writer that kept rows would grow by megabytes between the two samples.
"""

from __future__ import annotations

import tracemalloc

from airflow_provider_cloud.rows import read_records, write_rows

ROWS = 200_000
SAMPLE_AT = 50_000
MB = 1_000_000
BOUND = 20 * MB
GROWTH = 1 * MB


def generated(count: int, peaks: list[int]):
    for i in range(count):
        if i == SAMPLE_AT:
            peaks.append(tracemalloc.get_traced_memory()[1])
        yield {"id": i, "name": "x"}


def test_write_and_read_200k_rows_in_flat_memory(tmp_path):
    url = (tmp_path / "big.csv").as_uri()
    # Warm up first, so one-off imports and caches are not counted.
    write_rows(url, generated(10, []))
    list(read_records(url))

    tracemalloc.start()
    try:
        write_peaks: list[int] = []
        summary = write_rows(url, generated(ROWS, write_peaks))
        write_peaks.append(tracemalloc.get_traced_memory()[1])

        tracemalloc.reset_peak()
        read_peaks: list[int] = []
        count = 0
        last = None
        with read_records(url) as reader:
            for record in reader:
                count += 1
                if count == SAMPLE_AT:
                    read_peaks.append(tracemalloc.get_traced_memory()[1])
                last = record
        read_peaks.append(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()

    assert summary.rows == ROWS
    assert count == ROWS
    assert last is not None
    assert last.data == {"id": ROWS - 1, "name": "x"}
    assert (tmp_path / "big.csv").stat().st_size > 1 * MB
    for peaks in (write_peaks, read_peaks):
        at_50k, at_200k = peaks
        assert at_200k < BOUND, peaks
        assert at_200k - at_50k < GROWTH, peaks
