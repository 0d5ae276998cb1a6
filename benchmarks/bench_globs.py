"""Glob matching speed: ``python -m benchmarks.bench_globs`` prints keys matched per CPU second for typical
include patterns over 10^5 keys, and the time of adversarial patterns against long keys (not part of ``make bench``).
"""

from __future__ import annotations

import time

from reconciler.declare.globs import Selector

N = 100_000
FLAT = [f"products/d{i % 997:03d}/p{i:07d}.jpg" for i in range(N)]
DEEP = [f"photos/{i % 7}/sub{i % 13}/deep/img_{i:06d}.{('jpg', 'png', 'webp')[i % 3]}" for i in range(N)]
TYPICAL = [
    ("products/*/*.jpg", (), FLAT),
    ("products/**", (), FLAT),
    ("photos/**/*.jpg", ("photos/**/thumbs/**",), DEEP),
    ("photos/**/*.[jp][pn]g", (), DEEP),
    ("**/*.jpg", (), DEEP),
    ("photos/?/sub1*/**/img_*", (), DEEP),
    ("photos/**.jpg", (), DEEP),  # a "**" inside a segment: the automaton, not the regex
]
ADVERSARIAL = [
    ("x/*a*a*a*a*a*ab", "x/" + "a" * 98),
    ("x/*a*a*a*a*a*ab", "x/" + "a" * 848),
    ("**a**a**a**a**a**ab", "a" * 850),
    ("**/a/**/a/**/a/**/b", "a/" * 425),
]


def main() -> None:
    for include, exclude, keys in TYPICAL:
        matches = Selector((include,), exclude, ".cosrecon/").matches
        started = time.process_time()
        hits = sum(1 for k in keys if matches(k))
        elapsed = time.process_time() - started
        print(f"{include:28} {hits:7d} of {len(keys)} keys  {len(keys) / elapsed:12,.0f} keys/s")
    for pattern, key in ADVERSARIAL:
        matches = Selector((pattern,)).matches
        started = time.process_time()
        for _ in range(100):
            matches(key)
        print(f"{pattern:28} key of {len(key)} chars  {(time.process_time() - started) * 10:8.3f} ms per key")


if __name__ == "__main__":
    main()
