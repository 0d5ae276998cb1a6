"""Fuzz what users and bucket writers hand the tool: declarations and saved plans, mutated from real ones.

``python -m benchmarks.fuzz_hostile [--declarations 10000] [--plans 2000] [--seed 1]`` (not part of ``make bench``;
``tests/hostile/test_fuzz.py`` runs the same cases at a small count). Each declaration case is a mutation of an
example or fixture (bytes flipped, hostile snippets inserted, one node of the parsed document replaced by a hostile
value, written back as YAML or JSON); it goes through ``cosrecon validate`` (click's runner, the real command);
when valid, it is also planned against a bucket of hostile keys (control characters, bidi overrides, 850-character
keys, keys built to stall a backtracking glob) and rendered as text, markdown and JSON. Each plan case is a
mutation of a saved plan (made by planning the examples against hostile keys), loaded as ``apply --plan`` loads
it and rendered. A case fails when it raises anything but a cosrecon error, prints "internal error" or a
traceback, or takes more than ``LIMIT`` seconds; failures are listed with their seed so they can be replayed.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 2.0  # seconds per case
SNIPPETS = [
    "\n", "\r", "\t", "\x1b[31m", "\x7f", "\x85", "\u202e", "\u2028", "\ufeff", "\x00", "²", "٣", "\ud800",
    "9" * 5000, "[" * 300, "{" * 300, "[" * 3000 + "]" * 3000, '{"a":' * 2000, "- " * 300, "&a", "*a", "!!binary ", "!!python/object:os.system ", "<<: *a",
    "*a*a*a*a*a*a*ab", "**a**a**a**a**ab", "[z-a]", "[", "]", "{key", "{unknown}", "{", "}", "..", "//", "/",
    "version: 1.0", "1.0", "1e400", "-0", "0x10", "true", "null", "~", "'", '"', ",", ":", "#", "|", ">", "?",
]
HOSTILE_VALUES: list[Any] = [
    None, True, False, 0, -1, 1.0, 1e308, "", " ", "\n", "shop\n", "a\x1b[31mb", "a\u202eb", "x" * 10_000,
    "x/*a*a*a*a*a*a*a*ab", "**a**a**a**a**a**ab", "[", "[z-a]", "../x", "/", "//", "{key", "{nope}", "rotate/²",
    "imageMogr2/" + "|".join(["rotate/45"] * 16), "imageMogr2/thumbnail/99999999999999999999x", ".cosrecon/",
    "../", "./", [], {}, [[[[[]]]]], {"a": {"b": {"c": {}}}}, ["**"], [".cosrecon/**"], list(range(50)),
]

GLOBS = ["x/*a*a*a*a*a*a*ab", "**a**a**a**a**ab", "**/*a*a*a*ab/**", "**", "**/*", "*", "*/**/?*", "[!a]*/**/*.jpg",
         "photos/**/*.jpg", "**/**/**/**/x*y*z", "a**b**c", "photos/**.jpg", "?" * 50, "*" + "?*" * 40 + "b",
         "photos/[a-z]*/**", "**/к*.jpg", "x/**/" * 10 + "*"]
FILEIDS = ["/out/{key}", "out/{name}", "/thumbs/{reldir}/{stem}.webp", "{stem}-s.{ext}", "/{dir}/x/{rel}",
           "/o/{stem}{ext}", "../o/{name}"]


def hostile_keys() -> list[str]:
    """Keys a bucket writer could upload: every one a valid COS key (at most 850 bytes), many of them nasty."""
    names = ["a.jpg", "a\nb.jpg", "a\rb.png", "t\tb.jpg", "e\x1b[31mred.jpg", "d\x7f.jpg", "c1\x85.jpg",
             "bidi\u202egpj.exe.jpg", "ls\u2028x.jpg", "ключ.jpg", "画像.png", " sp ace .jpg", ".hidden.jpg",
             "a" * 98 + ".jpg", "a" * 200, "x" * 840 + ".jpg"]
    dirs = ["", "photos/", "scans/", "articles/", "products/", "avatars/", "banners/", "x/", "photos/a/b/c/",
            "photos/\n/", "a/" * 400]
    keys = [d + n for d in dirs for n in names if len((d + n).encode()) <= 850]
    keys += ["x/" + "a" * 100, "x/" + "a" * 800, "a/" * 425, ("a" * 40 + "/") * 20]
    return sorted(set(keys))


class HostileStorage:
    """A read-only ``Storage``: every bucket holds ``hostile_keys()`` (what the observer lists and HEADs)."""

    def __init__(self) -> None:
        from reconciler.model import ObjectInfo

        self.objects = [ObjectInfo(k, f"{i:032x}", 100 + i, "2026-01-01T00:00:00.000Z")
                        for i, k in enumerate(hostile_keys())]

    def list_objects(self, bucket: str, prefix: str = "", *, start_after: str = "") -> Iterator[Any]:
        return iter([o for o in self.objects if o.key.startswith(prefix) and o.key > start_after])

    def head_object(self, bucket: str, key: str) -> Any:
        from reconciler.errors import NotFound

        for o in self.objects:
            if o.key == key:
                return o
        raise NotFound("no such object", bucket=bucket, key=key, status=404, code="NoSuchKey")


# --- mutations -------------------------------------------------------------------------------------------------


def _seed_declarations() -> list[tuple[str, str]]:
    files = sorted((ROOT / "examples").glob("*.yaml")) + sorted((ROOT / "tests/declarations/fixtures").rglob("*.*"))
    return [(p.suffix, p.read_text(encoding="utf-8", errors="replace")) for p in files if p.suffix in (".yaml", ".json")]


def _mutate_text(rnd: random.Random, text: str) -> str:
    for _ in range(rnd.randint(1, 4)):
        at = rnd.randint(0, len(text))
        kind = rnd.random()
        if kind < 0.1:
            text = re.sub(r"\d+", "9" * rnd.choice([4300, 5000]), text, count=1)  # Python's int-from-string limit
        elif kind < 0.5:
            text = text[:at] + rnd.choice(SNIPPETS) + text[at:]
        elif kind < 0.7:
            text = text[:at] + text[at + rnd.randint(1, 20):]
        elif kind < 0.85:
            text = text[:at] + chr(rnd.randint(0, 0x2FF)) + text[at + 1:]
        else:
            start = rnd.randint(0, len(text))
            text = text[:at] + text[start:start + rnd.randint(1, 200)] + text[at:]
    return text


def _nodes(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, data
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _nodes(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _nodes(v, path + (i,))


def _mutate_data(rnd: random.Random, data: Any) -> Any:
    for _ in range(rnd.randint(1, 3)):
        nodes = list(_nodes(data))
        path, node = rnd.choice(nodes)
        choice = rnd.random()
        value = copy.deepcopy(rnd.choice(HOSTILE_VALUES))  # never the pool's own lists: no cycles, replayable
        if not path:
            continue
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        if choice < 0.6:
            parent[path[-1]] = value
        elif choice < 0.8 and isinstance(parent, dict):
            key = rnd.choice(["p\n", "a" * 64, "", "x y", "\x1b", path[-1] + "\n", "version"])
            parent[key] = parent.pop(path[-1])
        elif isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, list):
            parent.append(value)
    return data


def _yaml(data: Any, indent: int = 0) -> str:
    """Block YAML with JSON-quoted scalars (a subset of YAML every parser reads)."""
    pad = "  " * indent
    if isinstance(data, dict) and data:
        return "".join(f"{pad}{json.dumps(k)}:" + (f"\n{_yaml(v, indent + 1)}" if isinstance(v, (dict, list)) and v
                                                  else f" {json.dumps(v)}\n") for k, v in data.items())
    if isinstance(data, list) and data:
        return "".join(f"{pad}-" + (f"\n{_yaml(v, indent + 1)}" if isinstance(v, (dict, list)) and v
                                    else f" {json.dumps(v)}\n") for v in data)
    return f"{pad}{json.dumps(data)}\n"


def declaration_cases(n: int, seed: int) -> Iterator[tuple[str, str, bytes]]:
    """(case id, suffix, content) for ``n`` mutated declarations."""
    from reconciler.declare.yamlfile import LoadError, parse_text

    seeds = _seed_declarations()
    for i in range(n):
        rnd = random.Random(f"{seed}-d-{i}")
        suffix, text = rnd.choice(seeds)
        if rnd.random() < 0.3:
            content = _globs_and_fileids(rnd)
            suffix = ".yaml"
        elif rnd.random() < 0.5:
            content = _mutate_text(rnd, text)
        else:
            try:
                data = parse_text(text, is_json=suffix == ".json").data
            except LoadError:
                data = None
            data = _mutate_data(rnd, data) if isinstance(data, (dict, list)) else data
            suffix = rnd.choice([".yaml", ".json"])
            content = json.dumps(data, ensure_ascii=False) if suffix == ".json" else _yaml(data)
        yield f"{seed}-d-{i}", suffix, content.encode("utf-8", errors="surrogatepass")


def _globs_and_fileids(rnd: random.Random) -> str:
    """A declaration valid in form whose globs and fileids come from the hostile pools (many of them valid)."""
    outputs = {f"o{j}": {"rule": "imageMogr2/strip", "fileid": rnd.choice(FILEIDS), "overwrite_source": False}
               for j in range(rnd.randint(1, 3))}
    pipeline = {"source": {"include": rnd.sample(GLOBS, rnd.randint(1, 3)),
                           "exclude": [".cosrecon/**", "out/**", "thumbs/**", "**/o/**"]}, "outputs": outputs}
    data = {"version": 1, "name": "fuzz", "region": "ap-guangzhou", "bucket": "fuzz-1250000000",
            "state": {"bucket": "state-1250000000"}, "pipelines": {"p": pipeline}}
    return _yaml(data)


def _seed_plans() -> list[str]:
    from reconciler.declare.load import load_declarations
    from reconciler.model import Ledger, Plan
    from reconciler.plan.observed import plan_set
    from reconciler.plan.planfile import iter_plan_json

    storage = HostileStorage()
    plans = []
    for decl in load_declarations([ROOT / "examples"]):
        set_plan, _ = plan_set(decl, storage, Ledger(decl.name))  # type: ignore[arg-type]
        plan = Plan((set_plan,))
        plans.append("".join(iter_plan_json(plan)))
        plans.append("".join(iter_plan_json(plan, indent=False)))
    return plans


def plan_cases(n: int, seed: int) -> Iterator[tuple[str, bytes]]:
    seeds = _seed_plans()
    for i in range(n):
        rnd = random.Random(f"{seed}-p-{i}")
        text = rnd.choice(seeds)
        if rnd.random() < 0.5:
            lines = text.split("\n")
            at = rnd.randrange(len(lines))
            lines[at] = _mutate_text(rnd, lines[at][:2000])
            content = "\n".join(lines)
        else:
            data = _mutate_data(rnd, json.loads(text))
            content = json.dumps(data, ensure_ascii=False, indent=rnd.choice([None, 2]))
        yield f"{seed}-p-{i}", content.encode("utf-8", errors="surrogatepass")


# --- running -----------------------------------------------------------------------------------------------------


@dataclass
class Report:
    cases: int = 0
    valid: int = 0
    max_seconds: float = 0.0
    slowest: str = ""
    failures: list[str] = field(default_factory=list)

    def timed(self, case: str, seconds: float) -> None:
        self.cases += 1
        if seconds > self.max_seconds:
            self.max_seconds, self.slowest = seconds, case
        if seconds > LIMIT:
            self.failures.append(f"{case}: took {seconds:.2f}s")


def _render(plan: Any) -> None:
    from reconciler.render import render_json, render_markdown, render_text

    for text in (render_text(plan, full=True), render_markdown(plan)):
        if any(ch in text for ch in "\r\x1b\x7f\u202e"):
            raise AssertionError("a control character reached human-facing output")
    render_json(plan)


def run_declaration(case: str, suffix: str, content: bytes, directory: Path, report: Report) -> None:
    from click.testing import CliRunner

    from reconciler.cli import main as cli
    from reconciler.declare.load import load_declarations
    from reconciler.errors import CosreconError
    from reconciler.model import Ledger, Plan
    from reconciler.plan.observed import plan_set

    path = directory / f"set{suffix}"
    path.write_bytes(content)
    started = time.perf_counter()
    result = CliRunner().invoke(cli, ["validate", str(path)])
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        report.failures.append(f"{case}: validate raised {type(result.exception).__name__}: {result.exception}")
    elif "internal error" in output or "Traceback" in output or result.exit_code not in (0, 1):
        report.failures.append(f"{case}: validate exit {result.exit_code}: {output[-300:]!r}")
    elif result.exit_code == 0:
        report.valid += 1
        try:
            for decl in load_declarations([path]):
                set_plan, _ = plan_set(decl, HostileStorage(), Ledger(decl.name))  # type: ignore[arg-type]
                _render(Plan((set_plan,)))
        except CosreconError:
            pass
        except Exception as error:  # noqa: BLE001 - what the fuzzer counts
            report.failures.append(f"{case}: planning raised {type(error).__name__}: {error}")
    report.timed(case, time.perf_counter() - started)


def run_plan(case: str, content: bytes, directory: Path, report: Report) -> None:
    from reconciler.errors import CosreconError
    from reconciler.plan.planfile import load_plan

    path = directory / "plan.json"
    path.write_bytes(content)
    started = time.perf_counter()
    try:
        plan = load_plan(path)
        report.valid += 1
        _render(plan)
    except CosreconError as error:
        if "internal error" in error.message:
            report.failures.append(f"{case}: {error.message[:300]}")
    except Exception as error:  # noqa: BLE001 - what the fuzzer counts
        report.failures.append(f"{case}: loading or rendering raised {type(error).__name__}: {str(error)[:300]}")
    report.timed(case, time.perf_counter() - started)


def fuzz_declarations(n: int, seed: int) -> Report:
    report = Report()
    with tempfile.TemporaryDirectory() as tmp:
        for case, suffix, content in declaration_cases(n, seed):
            run_declaration(case, suffix, content, Path(tmp), report)
    return report


def fuzz_plans(n: int, seed: int) -> Report:
    report = Report()
    with tempfile.TemporaryDirectory() as tmp:
        for case, content in plan_cases(n, seed):
            run_plan(case, content, Path(tmp), report)
    return report


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz_hostile", description=__doc__.split("\n")[0])
    parser.add_argument("--declarations", type=int, default=10_000)
    parser.add_argument("--plans", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    failed = 0
    for name, run, n in (("declarations", fuzz_declarations, args.declarations), ("plans", fuzz_plans, args.plans)):
        started = time.perf_counter()
        report = run(n, args.seed)
        print(f"{name}: {report.cases} cases ({report.valid} valid) in {time.perf_counter() - started:.0f}s; "
              f"{len(report.failures)} failures; slowest {report.max_seconds:.3f}s ({report.slowest})")
        for failure in report.failures[:50]:
            print("  " + failure)
        failed += len(report.failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
