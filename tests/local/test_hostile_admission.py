"""The processing gate of the local server (issue 15): concurrent processing capped, decoded pixels in flight
within the memory budget (a request bigger than the budget runs alone), bounded waiting answered by 503
SlowDown, download-time processing paced by a TokenBucket without running up a debt when it refuses."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from qcloud_cos.cos_exception import CosServiceError

from reconciler.local import LocalServer
from reconciler.local.admission import ProcessingGate, ProcessingLimits
from reconciler.local.footprint import Header
from reconciler.local.imaging import header
from reconciler.local.protocol import CosError
from tests.local.conftest import jpeg, make_client


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _gate(**limits: float) -> ProcessingGate:
    return ProcessingGate(ProcessingLimits(**{"memory_budget": 800, "max_concurrent": 3,
                                              "queue_seconds": 0.05, **limits}))  # type: ignore[arg-type]


def test_pixels_in_flight_stay_within_the_budget() -> None:
    gate = _gate()
    with gate.admit(400), gate.admit(320):  # 400 + 320 bytes of 800
        with pytest.raises(CosError) as exc, gate.admit(160):  # 160 more would be 880
            pass
        assert exc.value.code == "SlowDown" and exc.value.status == 503
        with gate.admit(80):  # 80 more fits exactly
            assert gate.peak_held == 800
    with gate.admit(720):
        pass


def test_concurrency_is_capped_and_a_huge_request_runs_alone() -> None:
    gate = _gate()
    with gate.admit(8), gate.admit(8), gate.admit(8):
        with pytest.raises(CosError), gate.admit(8):
            pass
    with gate.admit(8):
        with pytest.raises(CosError), gate.admit(10_000):  # over the whole budget: only when nothing else runs
            pass
    with gate.admit(10_000):
        with pytest.raises(CosError), gate.admit(8):
            pass


def test_a_waiting_request_starts_when_a_slot_frees() -> None:
    gate = _gate(max_concurrent=1, queue_seconds=5.0)
    started = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with gate.admit(8):
            started.set()
            release.wait(5)

    worker = threading.Thread(target=hold)
    worker.start()
    started.wait(5)
    threading.Timer(0.05, release.set).start()
    with gate.admit(8):  # waits for the worker, well within queue_seconds
        assert release.is_set()  # admitted only once the worker let go
    worker.join(5)


def test_download_pacing_refuses_without_debt() -> None:
    clock = FakeClock()
    gate = ProcessingGate(ProcessingLimits(download_qps=10, download_wait=0.05), clock=clock, sleep=clock.sleep)
    gate.pace_download()  # the burst token
    for _ in range(5):  # the next token is 0.1 s away: over download_wait, refused, nothing taken
        with pytest.raises(CosError) as exc:
            gate.pace_download()
        assert exc.value.code == "SlowDown"
    clock.now += 0.06  # 0.04 s away now: paced, not refused
    gate.pace_download()
    assert clock.slept == [pytest.approx(0.04)]


def test_limits_from_memory() -> None:
    assert ProcessingLimits.from_memory(total=24 * 1024 ** 3, cpus=2) == ProcessingLimits(
        memory_budget=768 * 1024 ** 2, max_concurrent=4)
    assert ProcessingLimits.from_memory(total=512 * 1024 ** 2, cpus=1).memory_budget == 256 * 1024 ** 2
    assert ProcessingLimits.from_memory(total=2 * 1024 ** 3, cpus=8).memory_budget == 512 * 1024 ** 2


def test_the_header_is_read_without_decoding() -> None:
    data = jpeg(64, 48)
    assert header(data) == Header(64, 48, 1, False, "jpg", len(data))
    assert header(b"not an image") == Header(0, 0, size=12)


def test_download_processing_over_its_rate_is_503_over_http(tmp_path: Path) -> None:
    limits = ProcessingLimits(download_qps=0.001, download_wait=0.0)  # one token, then none for 1000 s
    with LocalServer(tmp_path, buckets=["rate-1250000000"], ci_qps=0, processing=limits) as srv:
        client = make_client(srv)
        client.put_object(Bucket="rate-1250000000", Key="a.jpg", Body=jpeg(32, 32))
        dest = tmp_path / "out.jpg"
        client.ci_get_object(Bucket="rate-1250000000", Key="a.jpg", DestImagePath=str(dest),
                             Rule="imageMogr2/thumbnail/8x")
        with pytest.raises(CosServiceError) as exc:
            client.ci_get_object(Bucket="rate-1250000000", Key="a.jpg", DestImagePath=str(dest),
                                 Rule="imageMogr2/thumbnail/8x")
        assert exc.value.get_status_code() == 503 and "SlowDown" in exc.value.get_origin_msg()
        assert client.get_object(Bucket="rate-1250000000", Key="a.jpg")["Body"].get_raw_stream().read()
