"""How a refused Cloud Infinite request is classified: ONE definition, from CI's documented numeric codes.

Used by the client (``storage.cos`` decides what to retry, ``apply.refusals`` what to split and whom to blame),
by the local server (which answers with these codes, ``CODES[n].status``) and by anything that records a
culprit (the daily loop's "unprocessable source" state builds on ``Verdict.unprocessable_source``). Pure data
and functions, no I/O.

CI's persistent-processing error codes (CI API docs, "Error Codes", persistent processing; cos-notes.md):
-62999 the image format is wrong (the source is not an image), -60998 the rule is invalid, -60997 more than
five rules, -60996 the file is too large (over a limit), -60967 the style does not exist, -60949 requests too
frequent.

ASSUMPTIONS where the pages are silent (also in docs/local-server.md, "CI error codes"):
- Where the number travels is not documented. It is read from the error body's ``<Code>`` (``<Code>-60998</Code>``,
  what the local server sends) or from an ``X-ErrNo`` header (download-time processing, 1045/33700); a
  reply carrying neither is classified from its HTTP status and string code alone.
- The HTTP status of each code is not documented. The local server answers 400 for -62999, -60998, -60997 and
  -60996, 404 for -60967 and 503 for -60949; the client never relies on these statuses: a number, when present,
  decides.
- Throttling is recognised in every form it may take: -60949 under any status, 503 ``SlowDown``, and 429.
- Nothing here ever reads an error's message text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Culprit(str, Enum):
    """What a failed request's error blames."""

    SOURCE = "source"  # the source is not an image CI can decode: no rule can succeed on it
    RULE = "rule"  # a rule is invalid
    TOO_MANY_RULES = "too-many-rules"  # the request carried more than five rules
    LIMIT = "limit"  # a size limit was exceeded (file too large)
    STYLE = "style"  # a style named by a rule does not exist on the bucket
    THROTTLED = "throttled"  # too many requests: retry later
    TRANSIENT = "transient"  # a server-side failure (5xx): retry
    NOT_EMULATED = "not-emulated"  # 501 NotImplemented: the local server does not emulate it (the cloud may)
    OTHER = "other"  # anything else (permissions, a missing bucket or key, ...): neither split nor retried


@dataclass(frozen=True)
class CiCode:
    """One documented numeric code: what it blames and the HTTP status the local server sends it with."""

    number: int
    culprit: Culprit
    status: int  # ASSUMPTION (not documented): the status the local server answers with
    meaning: str


SOURCE_NOT_IMAGE = -62999
INVALID_RULE = -60998
TOO_MANY_RULES = -60997
LIMIT_EXCEEDED = -60996
STYLE_MISSING = -60967
TOO_FREQUENT = -60949

CODES: dict[int, CiCode] = {c.number: c for c in (
    CiCode(SOURCE_NOT_IMAGE, Culprit.SOURCE, 400, "the image format is wrong: the source is not an image"),
    CiCode(INVALID_RULE, Culprit.RULE, 400, "the processing rule is invalid"),
    CiCode(TOO_MANY_RULES, Culprit.TOO_MANY_RULES, 400, "more than 5 rules in one request"),
    CiCode(LIMIT_EXCEEDED, Culprit.LIMIT, 400, "the file is too large (over a processing limit)"),
    CiCode(STYLE_MISSING, Culprit.STYLE, 404, "the style does not exist"),
    CiCode(TOO_FREQUENT, Culprit.THROTTLED, 503, "requests too frequent"),
)}

# String codes without a number (COS, or a CI reply that carries none): what they blame. A 400 with one of the
# refusal codes is a deterministic refusal of the request's content, culprit unknown between rule and source:
# treated as the rule's (the split then finds which one).
_THROTTLE_CODES = frozenset({"SlowDown", "RequestLimitExceeded", "TooManyRequests"})
_TRANSIENT_CODES = frozenset({"ServiceUnavailable", "InternalError", "RequestTimeout"})
_REFUSAL_CODES = frozenset({"InvalidArgument", "InvalidRequest", "InvalidImageFormat", "InvalidParameter",
                            "FailedOperation", "UnsupportedFormat", "ImageTooLarge"})

_NAMES = {Culprit.SOURCE: "the source", Culprit.RULE: "the rule", Culprit.TOO_MANY_RULES: "the request",
          Culprit.LIMIT: "a size limit", Culprit.STYLE: "the style", Culprit.THROTTLED: "the request rate",
          Culprit.TRANSIENT: "the service",
          Culprit.NOT_EMULATED: "the local server", Culprit.OTHER: "the request"}


@dataclass(frozen=True)
class Verdict:
    """What an error means: whom it blames, whether a retry of the same request may succeed, and whether it is a
    refusal (deterministic: the same request can never succeed)."""

    culprit: Culprit
    number: int | None = None  # CI's numeric code, when the reply carried one

    @property
    def retry(self) -> bool:
        """Retrying the same request may succeed (throttling, a server-side failure)."""
        return self.culprit in (Culprit.THROTTLED, Culprit.TRANSIENT)

    @property
    def refusal(self) -> bool:
        """The request's content is refused: retrying it as it is cannot succeed."""
        return self.culprit in (Culprit.SOURCE, Culprit.RULE, Culprit.TOO_MANY_RULES, Culprit.LIMIT, Culprit.STYLE,
                                Culprit.NOT_EMULATED)

    @property
    def by_cloud(self) -> bool:
        """A refusal the cloud would give too (not the local server's 501 for what it does not emulate)."""
        return self.refusal and self.culprit is not Culprit.NOT_EMULATED

    @property
    def splittable(self) -> bool:
        """Re-issuing a refused call's rules in smaller calls may make some of them (not when the source is bad:
        every rule fails on it)."""
        return self.refusal and self.culprit is not Culprit.SOURCE

    @property
    def unprocessable_source(self) -> bool:
        """The source itself cannot be processed by any rule (CI -62999, or a source it cannot decode)."""
        return self.culprit is Culprit.SOURCE

    def blames(self) -> str:
        """Who the message should name: 'the source', 'the rule', 'a size limit', ..."""
        return _NAMES[self.culprit]

    def describe(self) -> str:
        """One phrase for reports: the code and its documented meaning (or the culprit alone)."""
        code = CODES.get(self.number) if self.number is not None else None
        return f"CI {code.number}: {code.meaning}" if code else f"blames {self.blames()}"


def numeric_code(code: str = "", errno: str = "") -> int | None:
    """CI's numeric code from an error's ``<Code>`` or ``X-ErrNo`` (ASCII digits after an optional '-'), or None."""
    for text in (code.strip(), errno.strip()):
        digits = text[1:] if text.startswith("-") else text
        if digits and len(digits) <= 9 and digits.isascii() and digits.isdigit():
            return int(text)
    return None


def classify(status: int, code: str = "", errno: str = "") -> Verdict:
    """The one classification of a failed request, from its HTTP status, its error code (string or number) and
    an ``X-ErrNo`` header when there is one. Never reads message text."""
    number = numeric_code(code, errno)
    known = CODES.get(number) if number is not None else None
    if known is not None:
        return Verdict(known.culprit, number)
    if status == 429 or code in _THROTTLE_CODES:
        return Verdict(Culprit.THROTTLED, number)
    if status == 501 or code == "NotImplemented":
        return Verdict(Culprit.NOT_EMULATED, number)
    if status >= 500 or code in _TRANSIENT_CODES:
        return Verdict(Culprit.TRANSIENT, number)
    if status == 400 and code in _REFUSAL_CODES:
        return Verdict(Culprit.RULE, number)
    return Verdict(Culprit.OTHER, number)


def code_for(culprit: Culprit) -> CiCode:
    """The documented code the local server answers with for ``culprit`` (one per culprit)."""
    return next(c for c in CODES.values() if c.culprit is culprit)
