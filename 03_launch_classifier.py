"""Classify songs by genre: audio files, folders of them, http(s) links (YouTube, ...) or a YouTube search.

    python 03_launch_classifier.py song.mp3
    python 03_launch_classifier.py ~/Music --json --workers 2 > genres.jsonl
    python 03_launch_classifier.py "https://www.youtube.com/watch?v=..." --plot outputs/song.png
    python 03_launch_classifier.py --search "artist title"
    python 03_launch_classifier.py --like song.mp3 --results library.jsonl --top 20 --playlist like_song.m3u8

Each song is cut into 30-s windows (hop 15 s, at most 20 windows); the result is the mean of the model's
probabilities over the windows, plus the genre of each window (a timeline). The model runs as a small NumPy
forward pass, so TensorFlow is never imported (``--backend keras`` does, for comparison).
Exit status: 0 if at least one input was classified, 1 if every input failed, 2 for wrong arguments.

--like SONG lists the songs of a scanned library (--results FILE) that sound most like SONG: a song of the library
(its stored vector, no audio read), or any other file or URL (analysed first, by a model that reads musicnn
columns). Exit status: 0 with the list (or a playlist written), 1 if the query cannot be answered (no usable
library, vectors of another version, a query song that cannot be read or has no vector, an unwritable playlist;
one line on stderr; the results file is never changed), 2 for wrong arguments or an unusable model folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import functions_analysis as fa
import functions_dataviz as viz
import functions_fetch as ff
import functions_interface as fi
from functions_audio import same_file

EXIT_OK, EXIT_ALL_FAILED, EXIT_USAGE = 0, 1, 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
                                     .split("\n\n", 1)[1])
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="audio file, folder (all audio below it) or http(s) URL")
    parser.add_argument("--search", action="append", default=[], metavar="WORDS",
                        help='classify the first YouTube search result for these words, e.g. "artist title"')
    parser.add_argument("--model", metavar="DIR", default=None,
                        help="model folder (model.json + weights.npz); default: the shipped pretrained model")
    parser.add_argument("--top", type=int, default=None, metavar="K",
                        help="genres shown per song (default 3); with --like, songs listed (default 10)")
    parser.add_argument("--json", action="store_true", help="one JSON object per input per line")
    parser.add_argument("--plot", metavar="FILE.png", help="save the probability chart and timeline (one input; "
                        "with several, FILE_1.png, FILE_2.png, ...)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="parallel processes for several inputs (default: number of CPUs, at most 4)")
    parser.add_argument("--hop", type=float, default=fa.DEFAULT_HOP_SECONDS, metavar="S",
                        help=f"seconds between window starts (default {fa.DEFAULT_HOP_SECONDS:g})")
    parser.add_argument("--max-windows", type=int, default=fa.DEFAULT_MAX_WINDOWS, metavar="N",
                        help=f"windows per song at most, spread evenly (default {fa.DEFAULT_MAX_WINDOWS})")
    parser.add_argument("--patches", type=fa.parse_patches, default=fa.MUSICNN_PATCH_BUDGET, metavar="N|all",
                        help=fa.PATCHES_HELP)
    parser.add_argument("--max-duration", type=float, default=ff.DEFAULT_MAX_DURATION_S / 60, metavar="MIN",
                        help=f"refuse to download media longer than this (default {ff.DEFAULT_MAX_DURATION_S / 60:g})")
    parser.add_argument("--max-size", type=float, default=ff.DEFAULT_MAX_DOWNLOAD_BYTES / 2**20, metavar="MB",
                        help=f"abort downloads larger than this (default {ff.DEFAULT_MAX_DOWNLOAD_BYTES / 2**20:g})")
    parser.add_argument("--backend", choices=("numpy", "keras"), default="numpy",
                        help="numpy (default, fast start) or keras (imports TensorFlow; for comparison)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar or status line on stderr")
    library = parser.add_argument_group("your music library (see README, 'Your music library')")
    library.add_argument("--results", metavar="FILE.jsonl",
                         help="append each song's record to FILE as it finishes; a rerun skips unchanged songs")
    library.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                         help="classify on this Dask cluster (its workers must see the files and the model at the "
                              "same paths); the results file is written here")
    library.add_argument("--playlists", metavar="DIR",
                         help="write one <genre>.m3u8 per genre (sure songs, most confident first), "
                              "uncertain.m3u8 and unknown.m3u8 into DIR: every song of the --results file; a "
                              "playlist there that this program did not write is never replaced")
    library.add_argument("--write-tags", action="store_true",
                         help="write the genre into the files' tags (sure songs only; existing genres are kept)")
    library.add_argument("--min-confidence", type=float, default=None, metavar="P",
                         help="tags and genre playlists only for songs whose genre has at least this probability "
                              "(default 0.5)")
    library.add_argument("--overwrite-tags", action="store_true", help="replace an existing genre tag")
    library.add_argument("--dry-run", action="store_true",
                         help="list every tag change (and playlist) that would be written; write none")
    library.add_argument("--like", metavar="SONG",
                         help="list the songs of the --results library most like SONG (a file of the library, "
                              "another file, or a URL), most similar first")
    library.add_argument("--playlist", metavar="OUT.m3u8", help="with --like: write the songs as an M3U8 playlist")
    args = parser.parse_args(argv)
    args.top = (10 if args.like is not None else 3) if args.top is None else args.top
    for name, value, low in (("--top", args.top, 1), ("--max-windows", args.max_windows, 1),
                             ("--workers", args.workers or 1, 1)):
        if value < low:
            parser.error(f"{name} must be at least {low}")
    for name, value in (("--hop", args.hop), ("--max-duration", args.max_duration), ("--max-size", args.max_size)):
        if not value > 0:
            parser.error(f"{name} must be positive")
    if args.like is not None:
        check_like_args(parser, args)
        return args
    if args.playlist:
        parser.error("--playlist goes with --like (for one playlist per genre: --playlists DIR)")
    if not args.inputs and not args.search:
        parser.error("give at least one INPUT or --search WORDS")
    if args.plot and Path(args.plot).suffix.lower() != ".png":
        parser.error("--plot needs a file name ending in .png")
    args.library = bool(args.results or args.write_tags or args.playlists or args.scheduler)
    if args.plot and args.library:
        parser.error("--plot is for single songs; it does not go with --results, --write-tags, --playlists or "
                     "--scheduler")
    if (args.dry_run or args.min_confidence is not None) and not (args.write_tags or args.playlists):
        parser.error("--dry-run and --min-confidence go with --write-tags or --playlists")
    if args.overwrite_tags and not args.write_tags:
        parser.error("--overwrite-tags goes with --write-tags")
    if args.min_confidence is not None and not 0 <= args.min_confidence <= 1:
        parser.error("--min-confidence must be between 0 and 1")
    try:
        args.search_targets = [ff.search_target(words) for words in args.search]
    except ff.FetchError as exc:
        parser.error(str(exc))
    return args


def check_like_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--like queries a library that was scanned before: no inputs, no scan options."""
    if not args.results:
        parser.error("--like needs --results FILE.jsonl: the library to look in (scan it first: "
                     "03_launch_classifier.py FOLDER --results FILE.jsonl)")
    if args.inputs or args.search:
        parser.error("--like queries a library scanned before; scan with INPUT --results FILE first, then ask")
    given = [name for name, value in (("--plot", args.plot), ("--playlists", args.playlists),
                                      ("--write-tags", args.write_tags), ("--scheduler", args.scheduler),
                                      ("--dry-run", args.dry_run), ("--min-confidence", args.min_confidence),
                                      ("--overwrite-tags", args.overwrite_tags)) if value]
    if given:
        parser.error(f"{', '.join(given)} do(es) not go with --like")
    if not args.like.strip():
        parser.error("--like needs a song: a file or a URL")
    if args.playlist and Path(args.playlist).suffix.lower() not in (".m3u8", ".m3u"):
        parser.error("--playlist needs a file name ending in .m3u8")
    args.library = False


def like_main(args: argparse.Namespace, job: fi.ClassificationJob) -> int:
    """--like SONG --results FILE: the library's songs most like SONG (text or JSON lines), and --playlist."""
    import functions_similarity as fsim

    def note(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    import gc

    gc.disable()  # the answer is up to a library's worth of small objects and no cycles: collecting cost 0.25 s/100k
    if args.playlist and same_file(args.playlist, args.results):
        note(f"error: --playlist {args.playlist} is the results file (--results {args.results}): a query never "
             "writes the library; choose another playlist name")
        return EXIT_USAGE
    try:
        library = fsim.load_library(args.results)
        for line in library.notes():
            note(line)
        answer = fsim.find_like(args.like, args.results, args.top, job, library=library)
        if answer.analysed:
            note(f"{args.like}: not in the library (or changed since its scan): analysed now")
        if answer.duplicates or answer.vanished:
            note(f"left out: {answer.duplicates} song(s) reached twice (links, copies with equal audio), "
                 f"{answer.vanished} file(s) gone since the scan")
        if args.json:
            if answer.neighbours:
                print(fsim.json_lines(answer), flush=True)
        else:
            print(fsim.format_answer(answer), flush=True)
        if args.playlist:
            written = fsim.write_playlist(answer.neighbours, args.playlist)
            note(f"playlist written: {written} ({len(answer.neighbours)} songs)")
    except fi.ModelUnavailable as exc:
        note(f"error: {exc}")
        return EXIT_USAGE
    except fsim.SimilarityError as exc:
        note(f"error: {exc}")
        return EXIT_ALL_FAILED
    except KeyboardInterrupt:
        note("interrupted")
        return 130
    return EXIT_OK


def plot_paths(plot: str, count: int) -> list[Path]:
    """FILE.png for one result, FILE_1.png, FILE_2.png, ... for several."""
    base = Path(plot)
    if count == 1:
        return [base]
    return [base.with_name(f"{base.stem}_{i}{base.suffix}") for i in range(1, count + 1)]


def print_result(result: fa.SongResult, args: argparse.Namespace) -> None:
    """One result on stdout: a JSON line with --json, else the headline, bar chart and timeline."""
    if args.json:
        line = json.dumps(result.to_json_dict(), ensure_ascii=False)
        try:
            line.encode(sys.stdout.encoding or "utf-8")
        except UnicodeEncodeError:  # a file name with bytes that are not text: ASCII escapes Python reads back
            line = json.dumps(result.to_json_dict(), ensure_ascii=True)
        print(line, flush=True)
    else:
        print(fi.format_result(result, args.top, encoding=sys.stdout.encoding), flush=True)


def library_main(args: argparse.Namespace, job: fi.ClassificationJob, items: list[tuple[str, str | None]],
                 show_progress: bool) -> int:
    """A library scan: results file (resume), then the summary line on stderr."""
    import contextlib

    import functions_library as fl

    def note(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        with fl.ResultsFile(args.results) if args.results else contextlib.nullcontext() as results:
            if results is not None and results.dropped_lines:
                note(f"{args.results}: {results.dropped_lines} torn or unreadable line(s) ignored")
            report = fl.scan_library(job, items, results, workers=args.workers, scheduler=args.scheduler,
                                     show_progress=show_progress, on_result=lambda result: print_result(result, args),
                                     on_note=note)
            note(f"library: {report.summary.line()}")
            if args.write_tags:
                write_tags(args, report.entries, results, note)
            if args.playlists:
                write_playlists(args, job, results.entries.values() if results is not None else report.entries,
                                note)
    except fl.LibraryError as exc:
        note(f"error: {exc}")
        return EXIT_ALL_FAILED
    except KeyboardInterrupt:
        note("interrupted (the songs finished so far are in the results file)")
        return 130
    return EXIT_OK if any(entry.ok for entry in report.entries) else EXIT_ALL_FAILED


def write_playlists(args: argparse.Namespace, job: fi.ClassificationJob, entries, note) -> None:
    """--playlists DIR: the genre playlists of every song of the library (the results file's, with --results:
    a scan of one folder does not empty the playlists of the others)."""
    import functions_playlists as fp

    lists = fp.plan_playlists(entries, job.load().genres, min_confidence(args))
    folder = Path(args.playlists)
    stale = [name for name, songs in lists.items() if not songs and (folder / f"{name}.m3u8").exists()]
    if args.dry_run:
        note("would write playlists: " + (", ".join(f"{name}.m3u8 ({len(songs)})" for name, songs in lists.items()
                                                    if songs) or "none (no song is sure enough)")
             + (f"; would remove (no song now): {', '.join(f'{name}.m3u8' for name in stale)}" if stale else ""))
        return
    written, removed = fp.write_playlists(lists, folder)
    note(f"playlists written to {folder}: " + (", ".join(f"{path.name} ({len(lists[path.stem])})"
                                                         for path in written) or "none (no song is sure enough)")
         + (f"; removed (no song now): {', '.join(path.name for path in removed)}" if removed else ""))


def playlists_clash(args: argparse.Namespace, job: fi.ClassificationJob) -> str | None:
    """Why --playlists DIR cannot be written without harm (one line), checked before any song: DIR is a file or
    cannot be made, one of its playlists would be the results file, or a playlist there was not written by us
    (a playlist of the user's own is never replaced)."""
    import functions_playlists as fp

    if not args.playlists:
        return None
    folder = Path(args.playlists)
    if folder.exists() and not folder.is_dir():
        return f"--playlists {folder} is a file, not a folder: give a folder for the playlists"
    names = fp.every_playlist_name(job.load().genres)
    if args.results:
        for name in names:
            if same_file(folder / f"{name}.m3u8", args.results):
                return (f"--playlists {folder} would write {name}.m3u8 over the results file (--results "
                        f"{args.results}): keep the results file out of the playlist folder")
    foreign = fp.foreign_playlists(folder, names)
    if foreign:
        return (f"--playlists {folder} holds playlists this program did not write ({', '.join(foreign[:3])}"
                f"{', ...' if len(foreign) > 3 else ''}): they are never replaced; choose another folder, or move "
                "them")
    if not args.dry_run:
        try:  # made now, not after an hour of songs
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"--playlists {folder}: cannot create the folder ({exc.strerror or exc})"
    return None


def min_confidence(args: argparse.Namespace) -> float:
    import functions_library as fl

    return fl.DEFAULT_MIN_CONFIDENCE if args.min_confidence is None else args.min_confidence


def write_tags(args: argparse.Namespace, entries: list, results, note) -> None:
    """--write-tags: plan by the rules, list the changes (--dry-run: only that), write them, keep the results file
    in step (a tagged file has a new size and time, but the same song)."""
    import functions_library as fl
    import functions_tags as ft

    plan = ft.plan_tags(entries, min_confidence(args), args.overwrite_tags, ft.model_spellings(args.model),
                        clean=not args.dry_run)
    for path, reason in plan.problems:
        note(f"{path}: not tagged: {reason}")
    if args.dry_run:
        for change in plan.changes:
            note(f"would tag {change.describe()}")
    else:
        def written(change, state) -> None:
            note(f"tagged {change.describe()}")
            if results is not None and fl.library_path(change.path) in results.lines:
                size, mtime_ns = state
                results.append({**results.record(fl.library_path(change.path)), "size": size, "mtime_ns": mtime_ns})

        ft.apply_tags(plan, on_written=written, on_problem=lambda path, reason: note(f"{path}: not tagged: {reason}"))
    note(plan.line(args.dry_run))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = fa.AnalysisSettings(hop_s=args.hop, max_windows=args.max_windows, musicnn_patches=args.patches)
    job = fi.ClassificationJob(model_dir=args.model, backend=args.backend, settings=settings,
                               fetch_options={"max_duration_s": args.max_duration * 60,
                                              "max_bytes": int(args.max_size * 2**20)})
    if args.like is not None:
        return like_main(args, job)  # the model is loaded only if the song must be analysed
    try:
        analyser = job.load()
    except fi.ModelUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if getattr(analyser.classifier, "novelty", None) is None and (
            args.write_tags or args.playlists or not (args.json or args.library)):
        print(f"note: this model has no novelty score, so it cannot tell songs outside its {len(analyser.genres)} "
              "genres: it answers one of them for any sound (02_train_model.py fits one where the training songs "
              "allow: three genres or more, with songs of several artists)",
              file=sys.stderr)

    items = fi.expand_inputs(args.inputs) + [(target, None) for target in args.search_targets]
    show_progress = not args.no_progress and sys.stderr.isatty()
    if args.library:
        clash = playlists_clash(args, job)
        if clash:
            print(f"error: {clash}", file=sys.stderr)
            return EXIT_USAGE
        return library_main(args, job, items, show_progress)
    results = []
    try:
        for result in fi.classify_items(job, items, workers=args.workers, show_progress=show_progress):
            results.append(result)
            print_result(result, args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if args.plot:
        for result, path in zip(results, plot_paths(args.plot, len(results)), strict=True):
            if result.ok:
                viz.save_plot(result, path)
                if not args.json:
                    print(f"plot saved: {path}")
    failed = sum(not r.ok for r in results)
    if failed and len(results) > 1 and not args.json:
        print(f"{len(results) - failed} of {len(results)} inputs classified, {failed} failed", file=sys.stderr)
    return EXIT_ALL_FAILED if results and failed == len(results) else EXIT_OK


def run() -> int:
    """``main`` as a command: output piped into a program that stops reading (``| head``) ends it quietly."""
    try:
        return main()
    except BrokenPipeError:
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(run())
