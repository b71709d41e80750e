"""The locating-hints check (mapapp.domain.rules.locating_hints) on 2,000-character texts made
to make a regular expression backtrack, against an ordinary description of the same length in
the same run: medians of alternated rounds, each piece printed (a slow one is a pattern that
backtracks; a test cannot say so without timing, so it is measured here).

    .venv/bin/python bench/hints.py [--rounds 7]
"""

import argparse
import statistics
import time

from mapapp.domain import rules

ADVERSARIAL = [
    "Якуба Коласа Кирилла и Мефодия ",
    "у на за каля ля the old big new ",
    "а",
    "А",
    "a",
    "abc.",
    "9G5M",
    "9G+",
    "Месца збору: ",
    "Ленина, 12 ",
    "///а.",
    "Грин-",
    "у Якуба-Коласа-Кирилла ",
    "у нас у меня дома на ",
    "’",
    "53.9, 27.5 ",
    "at the the the the ",
    "у the old big ",
    "Аааа Бббба, д. ",
    "w3w: ",
    "у Ааа Ббб и Ввв ",
    "у А-А-А-А-А-А ",
]
ORDINARY = "Прыходзьце з сябрамі і кветкамі, вазьміце ліхтарыкі. Вход свободный. "


def text_of(piece: str) -> str:
    return (piece * (2000 // len(piece) + 1))[:2000]


def timed(text: str) -> float:
    started = time.perf_counter()
    rules.locating_hints(text)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    baseline_text = text_of(ORDINARY)
    worst = 0.0
    for piece in ADVERSARIAL:
        ours, base = [], []
        for _ in range(args.rounds):  # alternated: the ordinary text, then the piece
            base.append(timed(baseline_text))
            ours.append(timed(text_of(piece)))
        ratio = statistics.median(ours) / statistics.median(base)
        worst = max(worst, statistics.median(ours))
        print(
            f"{piece!r:40} {statistics.median(ours) * 1000:7.2f} ms  {ratio:5.2f}x the ordinary text"
        )
    print(
        f"slowest piece: {worst * 1000:.2f} ms (ordinary text: {statistics.median(base) * 1000:.2f} ms)"
    )


if __name__ == "__main__":
    main()
