"""The pure parts of the HTTP benchmark's memory report (the benchmark is make bench-http)."""

from __future__ import annotations

import os

from bridge.bench.http import batch_sizes, go_runtime_mb, metric_total
from bridge.bench.memory import process_memory


def test_batch_sizes_split_the_rows_evenly_and_leave_no_batch_empty() -> None:
    assert batch_sizes(10, 3) == [4, 3, 3]
    assert batch_sizes(2, 5) == [1, 1]
    assert batch_sizes(0, 4) == []
    assert sum(batch_sizes(71_003, 7_919)) == 71_003


def test_go_runtime_is_what_it_holds_less_what_it_released() -> None:
    metrics = "\n".join(
        [
            "# HELP go_memstats_sys_bytes Number of bytes obtained from system.",
            "go_memstats_sys_bytes 1.8874368e+07",
            "go_memstats_heap_released_bytes 2.097152e+06",
            "go_memstats_heap_sys_bytes 1.1e+07",
        ]
    )
    assert go_runtime_mb(metrics) == 16.0


def test_process_memory_splits_the_resident_set() -> None:
    mine = process_memory(os.getpid())
    assert mine.threads >= 1
    assert mine.anon_mb > 0 and mine.file_mb > 0
    assert mine.peak_rss_mb >= mine.rss_mb
    assert abs(mine.rss_mb - mine.anon_mb - mine.file_mb) < 1  # RssAnon + RssFile + RssShmem
    assert process_memory(2**31 - 1).peak_rss_mb == 0  # gone: zeros, no error


def test_metric_total_sums_every_series_of_one_name_only() -> None:
    metrics = "\n".join(
        [
            "# HELP mlbridge_memo_bytes Bytes the memo holds now.",
            'mlbridge_memo_bytes{model="a"} 1.5e+06',
            'mlbridge_memo_bytes{model="b"} 500000',
            "mlbridge_memo_bytes_total 7",
        ]
    )
    assert metric_total(metrics, "mlbridge_memo_bytes") == 2_000_000
    assert metric_total(metrics, "mlbridge_memo_entries") is None
