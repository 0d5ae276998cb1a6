"""Issue 24: throttling is retried in every form it may take — 503 SlowDown, 429 and CI's -60949 "requests too
frequent" (its HTTP status is not documented) — through the real SDK against the local server; and a refusal
that blames the source names the source, not the rule."""

from __future__ import annotations

import pytest

from reconciler.apply.contract import ApplyOptions
from reconciler.apply.engine import apply_plan
from reconciler.local import LocalServer
from reconciler.local.faults import THROTTLE_FORMS
from reconciler.ops.compose import Backend
from tests.apply.conftest import SRC, declaration, keys, make_plan, seed


@pytest.mark.usefixtures("instant_retries")
@pytest.mark.parametrize("form", THROTTLE_FORMS)
def test_each_form_of_throttling_is_retried(server: LocalServer, backend: Backend, form: str) -> None:
    seed(backend, [f"photos/{i}.jpg" for i in range(6)])
    server.set_faults(throttle_rate=0.4, throttle_as=form)
    decl = declaration()
    report = apply_plan(make_plan([decl], backend), [decl], backend, ApplyOptions(max_qps=0))
    assert report.failures == () and report.created == 12
    assert server.stats().get(f"error:{form}", 0) > 0  # the server did throttle, in that form
    assert report.attempts > report.calls  # and the client retried


def test_a_source_that_is_not_an_image_is_named_and_not_split(server: LocalServer, backend: Backend) -> None:
    backend.storage("ap-guangzhou").put_object(SRC, "photos/bad.jpg", b"not an image at all")
    decl = declaration()
    report = apply_plan(make_plan([decl], backend), [decl], backend, ApplyOptions(max_qps=0))
    assert {f.code for f in report.failures} == {"-62999"} and len(report.failures) == 2
    assert report.calls == 1  # the two rules of the call are not re-issued: no rule can succeed on this source
    for failure in report.failures:
        assert "the source photos/bad.jpg is not an image" in failure.message and "CI -62999" in failure.message
    assert keys(backend, SRC, "thumbs/") == set()


def test_the_summary_names_the_culprit_of_each_refusal() -> None:
    from reconciler.apply.contract import Failure
    from reconciler.apply.refusals import failure_summary

    def row(code: str, status: int) -> Failure:
        return Failure("s", "p.o", "b", "k", "src", code, "m", "", status)

    text = failure_summary((row("-62999", 400), row("-60998", 400), row("NotImplemented", 501)))
    assert text == ("3 output(s) not made (1 refused by Cloud Infinite: fix their rules; 1 whose source is not an "
                    "image Cloud Infinite can process; 1 not emulated by the local server); applying again cannot "
                    "make them")
    assert "run apply again to retry the others" in failure_summary((row("-62999", 400), row("SlowDown", 503)))
