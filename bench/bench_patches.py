"""The --patches budget against the dense analysis (issue 22): how often ``03 --patches N`` gives the answer of
``--patches all`` (every patch of every window), and the CPU seconds each budget costs, measured in one run.

For each ``--budgets`` value: the same genre, and the same top-3 tags (as a set), as ``--patches all`` on the 100
gtzan_mini clips and on 20 four-minute songs of eight clips end to end (10 of one genre, 10 mixing eight genres),
each analysed from its decoded samples in 2 worker processes (one BLAS thread each, as 03's workers); targets
>= 98 % same genre and >= 90 % same tags. A budget ``N/ddofD`` takes the standard deviations of a budgeted
window with ddof D. Every genre that differs is listed with the dense answer's top-two margin. (This was the
[agree] part of bench/bench_speed.py until 9fcdcfb; the same code and items.)

    python bench/bench_patches.py                                  # budgets 8,12,16,24 (about 10 minutes)
    python bench/bench_patches.py --budgets 4,8,12,16,24 --cache /tmp/agree.json   # reruns add what is missing

The machine is shared: the run prints the load average; CPU seconds per item move with it, the answers do not.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import bench_common as common  # first: it puts the project on the import path
from bench_common import verdict

import functions_analysis as fa

TARGET_SAME_GENRE, TARGET_SAME_TAGS = 0.98, 0.90

_ANALYSERS: dict = {}


def _agreement_task(task: tuple) -> dict:
    """One item (its clips' paths) analysed with one budget, in a worker: its genre, tags and CPU seconds."""
    number, parts, budget = task
    patches, _, ddof = budget.partition("/ddof")
    if budget not in _ANALYSERS:
        settings = fa.AnalysisSettings(musicnn_patches=fa.parse_patches(patches))
        _ANALYSERS[budget] = fa.SongAnalyser.from_model_dir(None, settings)
    y = common.song_samples([Path(p) for p in parts])
    started = time.process_time()
    default_ddof = fa.SPARSE_STD_DDOF
    fa.SPARSE_STD_DDOF = int(ddof) if ddof else default_ddof
    try:
        result = _ANALYSERS[budget].analyse_samples(y)
    finally:
        fa.SPARSE_STD_DDOF = default_ddof
    return {"number": number, "budget": budget, "genre": result.genre, "tags": [t for t, _ in result.tags or []],
            "probabilities": result.probabilities, "cpu": time.process_time() - started,
            "windows": len(result.windows)}


def part_agree(by_genre: dict[str, list[Path]], budgets: list[str], cache_file: Path | None) -> dict:
    """Print, per budget, how many items get the genre and top-3 tags of ``--patches all`` (with the genres that
    differ) and the CPU seconds per item; returns budget -> (same genre, same tags, CPU-s per kind of item)."""
    from functions_parallel import limit_worker_threads, run_in_workers

    print(f"\n[agree] the same answer as --patches all; {common.load_line()}")
    items = [(c.stem, "30-s clips", (str(c),)) for c in common.clip_subset(by_genre, 10)]
    items += [(s.name, "one-genre songs", tuple(map(str, s.clips))) for s in common.one_genre_songs(by_genre, 0)]
    items += [(s.name, "mixed songs (8 genres)", tuple(map(str, s.clips))) for s in common.mixed_songs(by_genre, 10)]
    stored = json.loads(cache_file.read_text()) if cache_file and cache_file.is_file() else {}
    tasks = []
    for budget in ["all", *budgets]:
        for n, (_, kind, parts) in enumerate(items):
            if f"{n}|{budget}" in stored:
                continue
            patches = fa.parse_patches(budget.partition("/ddof")[0])
            share = fa.musicnn_patches_per_window(1, fa.AnalysisSettings(musicnn_patches=patches))
            if budget != "all" and kind == "30-s clips" and share is None:
                continue  # one window with every patch: the very call of --patches all
            tasks.append((n, parts, budget))
    tasks.sort(key=lambda t: -len(t[1]) * (20 if t[2] == "all" else 1))
    started = time.perf_counter()
    for _, outcome in run_in_workers(_agreement_task, tasks, 2, initializer=limit_worker_threads):
        if not isinstance(outcome, dict):
            raise SystemExit(f"bench_patches: an agreement task failed: {outcome}")
        stored[f"{outcome['number']}|{outcome['budget']}"] = outcome
    if cache_file:
        cache_file.write_text(json.dumps(stored))
    print(f"    {len(tasks)} analyses in {time.perf_counter() - started:.0f} s (2 workers; "
          f"{len(stored) - len(tasks)} from {cache_file})")
    groups: dict[str, list[int]] = {}
    for n, (_, kind, _) in enumerate(items):
        groups.setdefault(kind, []).append(n)
    summary = {}
    for budget in budgets:
        genre_same = tags_same = 0
        cells, differs = [], []
        for kind, members in groups.items():
            g = t = 0
            for n in members:
                dense = stored[f"{n}|all"]
                mine = stored.get(f"{n}|{budget}", dense)
                g += mine["genre"] == dense["genre"]
                t += set(mine["tags"]) == set(dense["tags"])
                if mine["genre"] != dense["genre"]:
                    ranked = sorted(dense["probabilities"].values(), reverse=True)
                    differs.append(f"{items[n][0]}: {dense['genre']} -> {mine['genre']} (all: top-2 margin "
                                   f"{ranked[0] - ranked[1]:.3f})")
            cells.append(f"{kind} genre {g}/{len(members)}, tags {t}/{len(members)}")
            genre_same, tags_same = genre_same + g, tags_same + t
        total = len(items)
        cpu = {kind: statistics.mean(stored.get(f"{n}|{budget}", stored[f"{n}|all"])["cpu"] for n in members)
               for kind, members in groups.items()}
        summary[budget] = (genre_same / total, tags_same / total, cpu)
        print(f"    --patches {budget:>3s}: " + "; ".join(cells) + f"; all {genre_same}/{total} = "
              f"{genre_same / total:.1%} same genre [>= {TARGET_SAME_GENRE:.0%}: "
              f"{'met' if genre_same / total >= TARGET_SAME_GENRE else 'MISSED'}], {tags_same / total:.1%} same "
              f"top-3 tags [>= {TARGET_SAME_TAGS:.0%}: {'met' if tags_same / total >= TARGET_SAME_TAGS else 'MISSED'}]"
              "; CPU-s per item: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
        for line in differs:
            print(f"        differs: {line}")
    dense_cpu = {kind: statistics.mean(stored[f"{n}|all"]["cpu"] for n in members) for kind, members in groups.items()}
    print("    --patches all, CPU-s per item: " + ", ".join(f"{k} {v:.2f}" for k, v in dense_cpu.items()))
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", default="8,12,16,24", help="--patches values compared with all (default "
                        "%(default)s); N/ddofD: with the std columns of a budgeted window taken with ddof D")
    parser.add_argument("--cache", type=Path, help="keep the analyses in this JSON file (reruns compute only what "
                                                   "is missing)")
    args = parser.parse_args()
    budgets = [b.strip() for b in args.budgets.split(",") if b.strip()]
    for budget in budgets:
        patches, _, ddof = budget.partition("/ddof")
        try:
            fa.parse_patches(patches)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"--budgets {budget}: {exc}")
        if ddof and not ddof.isdigit():
            parser.error(f"--budgets {budget}: ddof {ddof!r} is not a whole number >= 0")
    by_genre = common.shared_clips()
    print(f"bench_patches: {common.uptime()}")
    print(f"songs from shared gtzan_mini clips; {common.load_line()}; default --patches {fa.MUSICNN_PATCH_BUDGET}")
    started = time.perf_counter()
    summary = part_agree(by_genre, budgets, args.cache)
    common.print_target_lines([
        f"--patches {budget} vs all: same genre {genre:.1%} [>= {TARGET_SAME_GENRE:.0%}: "
        f"{verdict(genre >= TARGET_SAME_GENRE)}], same top-3 tags {tags:.1%} [>= {TARGET_SAME_TAGS:.0%}: "
        f"{verdict(tags >= TARGET_SAME_TAGS)}]" for budget, (genre, tags, _) in summary.items()])
    return common.finish(started)


if __name__ == "__main__":
    sys.exit(main())
