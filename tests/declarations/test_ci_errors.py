"""declare.ci_errors: the one classification of a failed CI request, from documented numeric codes, never from
message text."""

from __future__ import annotations

import pytest

from reconciler.declare.ci_errors import CODES, Culprit, classify, code_for, numeric_code


@pytest.mark.parametrize(("status", "code", "culprit"), [
    (400, "-62999", Culprit.SOURCE), (400, "-60998", Culprit.RULE), (400, "-60997", Culprit.TOO_MANY_RULES),
    (400, "-60996", Culprit.LIMIT), (404, "-60967", Culprit.STYLE), (503, "-60949", Culprit.THROTTLED),
    (400, "-60949", Culprit.THROTTLED), (200, "-60998", Culprit.RULE),  # the number decides, whatever the status
    (503, "SlowDown", Culprit.THROTTLED), (429, "", Culprit.THROTTLED), (429, "Unknown", Culprit.THROTTLED),
    (500, "InternalError", Culprit.TRANSIENT), (502, "HTTP502", Culprit.TRANSIENT),
    (501, "NotImplemented", Culprit.NOT_EMULATED), (400, "InvalidArgument", Culprit.RULE),
    (403, "AccessDenied", Culprit.OTHER), (404, "NoSuchKey", Culprit.OTHER), (400, "-1", Culprit.OTHER),
])
def test_each_documented_code_names_its_culprit(status: int, code: str, culprit: Culprit) -> None:
    assert classify(status, code).culprit is culprit


def test_what_is_retried_refused_split_or_blamed_on_the_source() -> None:
    throttled = [classify(503, "SlowDown"), classify(429), classify(400, "-60949")]
    assert all(v.retry and not v.refusal for v in throttled)
    source = classify(400, "-62999")
    assert source.refusal and not source.splittable and source.unprocessable_source and source.blames() == "the source"
    rule = classify(400, "-60998")
    assert rule.refusal and rule.splittable and not rule.unprocessable_source and rule.blames() == "the rule"
    local = classify(501, "NotImplemented")
    assert local.refusal and not local.by_cloud and not local.retry
    assert "CI -60996" in classify(400, "-60996").describe()


def test_the_number_may_come_as_x_errno_and_only_ascii_digits_count() -> None:
    assert classify(400, "InvalidArgument", errno="-62999").unprocessable_source
    assert numeric_code("-６０９９８") is None and numeric_code("-60998 ") == -60998
    assert numeric_code("-" + "9" * 10) is None and numeric_code("rules[2]") is None


def test_the_server_has_one_code_and_status_per_culprit() -> None:
    assert {code_for(c.culprit).number for c in CODES.values()} == set(CODES)
    assert code_for(Culprit.THROTTLED).number == -60949
