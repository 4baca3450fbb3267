"""How the novelty score's settings, its not-music margin and its threshold rule were chosen, inside ``train`` only
(functions_novelty; issue 20). The test clips are not read here (bench_novelty.py reports on them).

Parts (``--part``, comma-separated; default ``cv,threshold``):

- ``cv``: the settings of the score, each judged by leave-one-genre-out with artist-grouped 5-fold CV inside the
  train clips (functions_novelty.choose_threshold): mean AUROC of left-out genre vs known, and the share of the
  left-out genre at or above the threshold that keeps 90 % of the known clips. The rule fixed before the run: the
  grid's best mean AUROC; the module's defaults should be it. Then the not-music test's margin: the share of
  held-out train clips it flags (artist-grouped folds, three fold seeds) for margins 0-1 std; the rule: twice the
  smallest margin that flags none.
- ``threshold``: the threshold rule (plain quantile over held-out known clips, or each artist weighing the same:
  functions_novelty.WEIGHTING) by a nested protocol inside train that mimics the test protocol; the rule whose
  threshold flags the share of outer-held-out known clips closest to 1 - keep (see part_threshold).

    .venv/bin/python bench/bench_novelty_cv.py [--part cv,threshold] [--quick] [--json FILE]

--quick: a smaller grid for ``cv`` (2 settings and the baselines; the figures are then not the choice's).

Measured, last full run (printed by bench/bench_novelty.py --part cv,threshold at 9bfa595, before this part had
a script of its own; the threshold rule "group"):
- cv (106 settings): the chosen score (sqrt tag means, shrinkage 0.6, entropy weight 2, temperature 16, guard) is
  the grid's best, 0.862 mean AUROC, 0.610 of the left-out genre caught at the threshold (0.566 with the rule
  before); without the guard 0.868; nearest genre mean 0.830; classic columns only 0.571. Not-music margin: none
  of the 1329 held-out train clips flagged at 0.25-1 std (3 at 0): 0.5 kept.
- threshold (350 s): outer-held-out known clips flagged at keep 0.90: rule before ("row") 0.068 (sd 0.047 over 100
  fits), "group" 0.093 (sd 0.058): "group" chosen; left-out clips caught 0.501 -> 0.563.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, replace

import novelty_data as nd
import numpy as np
from novelty_data import GROUP_FOLDS, Data

import functions_evaluation as evaluation
import functions_novelty as fnov


def part_cv(data: Data, args: argparse.Namespace) -> dict:
    """Leave-one-genre-out inside train for every setting of the grid, the baselines and the guard's cost."""
    settings = nd.grid_settings(nd.QUICK_GRID if args.quick else nd.GRID)
    default = fnov.NoveltySettings()
    extra = [fnov.NEAREST_MEAN, replace(default, guard_prefix=()), replace(default, still_prefix=()),
             fnov.CLASSIC_ONLY]
    rows = []
    started = time.perf_counter()
    for s in settings + [e for e in extra if e not in settings]:
        f = fnov.choose_threshold(data.X_train, data.y_train, data.groups, data.columns, s).figures
        rows.append({"settings": asdict(s), "name": nd.describe(s), "mean_auroc": f["mean_auroc"],
                     "mean_caught": f["mean_caught"],
                     "per_genre_auroc": [f["per_genre"][str(i)]["auroc"] for i in range(len(data.genres))]})
    seconds = time.perf_counter() - started
    in_grid = rows[:len(settings)]
    best = max(in_grid, key=lambda r: r["mean_auroc"])
    print(f"\n== cv: leave-one-genre-out inside the {len(data.y_train)} train clips, artist-grouped "
          f"{GROUP_FOLDS}-fold ({len(set(data.groups.tolist()))} groups); {len(rows)} settings in {seconds:.1f} s")
    print(f"{'score':<54} {'AUROC':>6} {'caught@90':>9}  per left-out genre: " + " ".join(g[:5] for g in data.genres))
    for r in sorted(rows, key=lambda r: -r["mean_auroc"]):
        mark = " <- best" if r is best else " <- default" if r["settings"] == asdict(default) else ""
        print(f"{r['name']:<54} {r['mean_auroc']:6.3f} {r['mean_caught']:9.3f}  "
              + " ".join(f"{a:5.2f}" for a in r["per_genre_auroc"]) + mark)
    same = best["settings"] == asdict(default)
    print(f"rule (best mean AUROC of the grid): {best['name']}; module defaults: {nd.describe(default)} "
          f"({'the same' if same else 'DIFFERENT'})")
    return {"rows": rows, "best": best["settings"], "default_is_best": same, "seconds": seconds,
            "not_music": cv_not_music(data)}


STILL_MARGINS = (0.0, 0.25, 0.5, 1.0)
STILL_SEEDS = (0, 1, 2)


def cv_not_music(data: Data) -> dict:
    """The not-music test's margin, inside train: for each margin (in stds of the training rows' variation), the
    share of held-out train clips it flags when fitted on the other folds' clips (artist-grouped 5-fold, three fold
    seeds), and the lowest held-out variation relative to the fold's floor. The rule fixed before the run: twice
    the smallest margin that flags no held-out clip for any seed (the module's default should be it)."""
    default = fnov.NoveltySettings()
    rows = []
    for margin in STILL_MARGINS:
        settings = replace(default, still_margin=margin)
        flagged, gaps = [], []
        for seed in STILL_SEEDS:
            for train in evaluation.group_cv_masks(data.y_train, data.groups, GROUP_FOLDS, seed):
                scorer = fnov.fit_scorer(data.X_train[train], data.y_train[train], data.columns, settings)
                held = data.X_train[~train]
                flagged.append(fnov.not_music(scorer, held))
                gaps.append(float(scorer.still.variation(held).min() - scorer.still.floor))
        rows.append({"margin": margin, "flagged": float(np.concatenate(flagged).mean()),
                     "flagged_clips": int(np.concatenate(flagged).sum()), "closest": min(gaps)})
    clean = [r["margin"] for r in rows if r["flagged_clips"] == 0]
    chosen = 2 * min(clean) if clean else float("nan")
    full = fnov.fit_scorer(data.X_train, data.y_train, data.columns, default).still
    print(f"\n-- not-music test (variation of {len(full.used)} mfcc_std columns), inside the {len(data.y_train)} "
          f"train clips: their variation {full.train_min:.2f} at the lowest, std {full.train_std:.2f}; floor "
          f"{full.floor:.2f} at the default margin {default.still_margin:g}")
    print(f"{'margin (stds)':>13} {'held-out flagged':>16} {'clips':>6} {'closest held-out above floor':>29}  "
          f"(artist-grouped {GROUP_FOLDS}-fold, seeds {', '.join(map(str, STILL_SEEDS))})")
    for r in rows:
        print(f"{r['margin']:13g} {r['flagged']:16.4f} {r['flagged_clips']:6d} {r['closest']:29.2f}")
    print(f"rule (twice the smallest margin flagging no held-out clip): {chosen:g}; module default "
          f"{default.still_margin:g} ({'the same' if chosen == default.still_margin else 'DIFFERENT'})")
    return {"rows": rows, "chosen": chosen, "default": default.still_margin, "train_min": full.train_min,
            "train_std": full.train_std, "floor": full.floor}


OUTER_SEEDS = (100, 101)


def part_threshold(data: Data, args: argparse.Namespace) -> dict:
    """The threshold rule, chosen inside train by a nested protocol that mimics the test protocol: outer
    artist-grouped 5-fold (two seeds) inside the train clips; for each outer fold and left-out genre g, the scorer
    and its threshold fitted (fit_novelty: inner leave-one-genre-out, artist-grouped folds) on the outer-train
    clips of the genres other than g, then the outer-held-out clips of those genres scored: the share flagged
    unknown (asked: 1 - keep) and the share of g's outer-held-out clips caught. Rules: the keep quantile with every
    held-out row the same ("row", the rule before) or every artist the same within each left-out genre ("group"),
    at keep 0.90 (and 0.85 to see the slope). The rule fixed before the run: the one whose mean flagged share is
    closest to 1 - keep at keep 0.90; the module's WEIGHTING should be it."""
    default = fnov.NoveltySettings()
    X, y, G = data.X_train, data.y_train, data.groups
    rules = [(w, k) for w in fnov.WEIGHTINGS for k in (0.90, 0.85)]
    flagged: dict = {r: [] for r in rules}
    caught: dict = {r: [] for r in rules}
    started = time.perf_counter()
    for seed in OUTER_SEEDS:
        for outer in evaluation.group_cv_masks(y, G, GROUP_FOLDS, seed):
            for g in range(len(data.genres)):
                fit = outer & (y != g)
                labels = np.unique(y[fit])
                scorer = fnov.fit_scorer(X[fit], np.searchsorted(labels, y[fit]), data.columns, default)
                known, novel = ~outer & (y != g), ~outer & (y == g)
                s_known, s_novel = fnov.raw_scores(scorer, X[known]), fnov.raw_scores(scorer, X[novel])
                for weighting, keep in rules:
                    threshold = fnov.choose_threshold(X[fit], np.searchsorted(labels, y[fit]), G[fit], data.columns,
                                                      default, keep, weighting=weighting).threshold
                    flagged[(weighting, keep)].append(float((s_known >= threshold).mean()))
                    caught[(weighting, keep)].append(float((s_novel >= threshold).mean()) if novel.any()
                                                     else float("nan"))
    seconds = time.perf_counter() - started
    rows = [{"weighting": w, "keep": k, "known_flagged": float(np.mean(flagged[(w, k)])),
             "known_flagged_sd": float(np.std(flagged[(w, k)])), "caught": float(np.nanmean(caught[(w, k)]))}
            for w, k in rules]
    at_90 = [r for r in rows if r["keep"] == 0.90]
    best = min(at_90, key=lambda r: abs(r["known_flagged"] - 0.10))
    print(f"\n== threshold: the rule, nested inside the {len(y)} train clips (outer artist-grouped {GROUP_FOLDS}-fold,"
          f" seeds {', '.join(map(str, OUTER_SEEDS))}; {len(flagged[rules[0]])} fits per rule; {seconds:.0f} s)")
    print(f"{'weighting':<10} {'keep':>5} {'outer known flagged':>20} {'sd over fits':>13} {'left-out caught':>16}")
    for r in rows:
        print(f"{r['weighting']:<10} {r['keep']:5.2f} {r['known_flagged']:20.3f} {r['known_flagged_sd']:13.3f} "
              f"{r['caught']:16.3f}" + (" <- closest to 0.10" if r is best else ""))
    print(f"rule (flagged share closest to 1 - keep at keep 0.90): {best['weighting']}; module WEIGHTING: "
          f"{fnov.WEIGHTING} ({'the same' if best['weighting'] == fnov.WEIGHTING else 'DIFFERENT'})")
    return {"rows": rows, "chosen": best["weighting"], "module_weighting": fnov.WEIGHTING, "seconds": seconds,
            "outer_seeds": list(OUTER_SEEDS)}


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a small grid for cv (2 settings and the baselines)")


def main(argv: list[str] | None = None) -> int:
    return nd.run_bench(__doc__, {"cv": part_cv, "threshold": part_threshold}, "cv,threshold", "bench_novelty_cv",
                        argv, options)


if __name__ == "__main__":
    sys.exit(main())
