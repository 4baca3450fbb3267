"""Step 0: turn a labelled music folder (one sub-folder per genre), or a GTZAN archive, into the features CSV.

    python 00_preprocess_music.py DATASET_DIR -o outputs/features.csv
    python 00_preprocess_music.py archive.zip -o outputs/features.csv        # Kaggle's GTZAN, or genres.tar.gz
    python 00_preprocess_music.py --demo -o outputs/demo/features.csv        # synthetic demo collection
    python 00_preprocess_music.py --download-gtzan -o outputs/features.csv   # fetch real GTZAN first
    python 00_preprocess_music.py --prepare-musicnn                          # convert the musicnn weights once
    python 00_preprocess_music.py LIBRARY --labels tags -o outputs/mine.csv  # your own genres, from the tags

Every later step reads the CSV this writes (columns: file, genre, then the features of --features: the 91
classic ones, the 100 musicnn tag statistics, or both; with --labels tags an artist column after genre).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import functions_audio as audio
import functions_dataset as dataset
import functions_gtzan as gtzan
import functions_labels as labels
import functions_stamps as stamps
import functions_synthetic as synthetic
import functions_tags as tags
from functions_parallel import WORKER_DIED

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Extract the audio features of every clip of a labelled music collection into one CSV: the "
                    "91 classic features (MFCC, chroma, tempo, zero-crossing rate, spectral rolloff and "
                    "centroid; librosa defaults) and/or the 100 learned ones (mean and std of the 50 tags of the "
                    "pre-trained musicnn network over the clip's 3-s patches); --features chooses. "
                    "DATASET_DIR holds one sub-folder per genre; every audio file below a sub-folder (WAV, AU, "
                    "FLAC, OGG, MP3, and through ffmpeg M4A, WebM, ...) is a clip of that genre. A .zip or "
                    ".tar.gz of such folders (Kaggle's GTZAN archive.zip, the original genres.tar.gz) is unpacked "
                    "first, audio only, into --unpack-dir. Rows are written "
                    "as clips finish: an interrupted run keeps them, and running the same command again "
                    "extracts only the rest. Files that cannot be used are listed in FEATURES.errors.csv.",
        epilog="Examples:\n"
               "  python 00_preprocess_music.py ~/music/genres_original -o outputs/features.csv\n"
               "  python 00_preprocess_music.py ~/Downloads/archive.zip -o outputs/features.csv\n"
               "  python 00_preprocess_music.py --demo -o outputs/demo/features.csv\n"
               "  python 00_preprocess_music.py --download-gtzan -o outputs/features.csv\n"
               "  python 00_preprocess_music.py ~/Music --labels tags -o outputs/mine.csv --genre-map my.tsv\n"
               "  python 00_preprocess_music.py data/genres -o outputs/features.csv --scheduler tcp://10.0.0.5:8786",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset_dir", nargs="?", type=Path, metavar="DATASET_DIR",
                        help="folder with one sub-folder per genre, or a .zip/.tar.gz archive of one "
                             "(omit with --demo or --download-gtzan)")
    parser.add_argument("--unpack-dir", type=Path, default=audio.DATA_DIR, metavar="DIR",
                        help="where an archive's audio is unpacked, in a folder of its own (default: %(default)s)")
    parser.add_argument("-o", "--output", type=Path, default=audio.OUTPUTS_DIR / "features.csv",
                        metavar="FEATURES.csv", help="features CSV to write or resume (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="local worker processes (default: all %(default)s cores)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on an existing Dask distributed cluster, e.g. tcp://HOST:8786 "
                             "(its workers must see the same files at the same paths)")
    parser.add_argument("--max-seconds", type=float, default=audio.CLIP_SECONDS, metavar="S",
                        help="features come from at most the first S seconds of each file (default: %(default)g, "
                             "the GTZAN clip length; a file up to 5%% longer is read whole). Bounds memory "
                             "for long recordings")
    parser.add_argument("--overwrite", action="store_true",
                        help="start afresh instead of resuming from the rows already in FEATURES.csv")
    parser.add_argument("--demo", action="store_true",
                        help=f"generate the small SYNTHETIC demo collection (not GTZAN) in "
                             f"{audio.DEMO_DATASET_DIR.relative_to(audio.PROJECT_DIR)}/ and use it")
    parser.add_argument("--demo-clips", type=int, default=10, metavar="N",
                        help="clips per genre of the synthetic demo collection (default: %(default)s)")
    parser.add_argument("--download-gtzan", action="store_true",
                        help=f"download GTZAN's genres.tar.gz (1.2 GB, resumable, MD5-checked) into "
                             f"{audio.DATA_DIR.relative_to(audio.PROJECT_DIR)}/ and use it")
    parser.add_argument("--download-dir", type=Path, default=audio.DATA_DIR, metavar="DIR",
                        help="where --download-gtzan keeps and unpacks the archive (default: %(default)s)")
    parser.add_argument("--gtzan-url", default=gtzan.GTZAN_URL, metavar="URL",
                        help="where to download GTZAN from (default: %(default)s)")
    parser.add_argument("--gtzan-md5", default=gtzan.GTZAN_MD5, metavar="MD5",
                        help="expected MD5 of the archive (default: %(default)s; '' skips the check)")
    parser.add_argument("--features", choices=tuple(audio.FEATURE_SETS), default=dataset.DEFAULT_FEATURE_SET,
                        help="classic: the 91 hand-made features (0.2 s a clip); musicnn: the 100 musicnn tag "
                             "statistics (0.6 s a clip); all: both, what the shipped model reads (default: "
                             "%(default)s). A clip under 3 s is repeat-padded for the network (as musicnn's "
                             "training did); under 1 s it is refused. Resuming keeps only rows of the same set")
    parser.add_argument("--prepare-musicnn", action="store_true",
                        help="only convert the musicnn weights of the installed musicnn wheel (pip install "
                             "--no-deps musicnn==0.1.0) into data/musicnn/, then exit")
    parser.add_argument("--labels", choices=("folders", "tags"), default="folders",
                        help="folders: one sub-folder per genre (default); tags: a library of any layout, each "
                             "song labelled by its genre tag (ID3, Vorbis comments, MP4, ASF; spellings merged "
                             "up to case, spaces and punctuation; ID3v1 numbers named; the first of several "
                             "genres), its artist (else album artist) in an artist column. The tag summary is "
                             "printed before any audio is read; every song's tag, label and status goes to "
                             "FEATURES.labels.csv, each label's most frequent spelling to FEATURES.settings.json")
    parser.add_argument("--genre-map", type=Path, metavar="FILE.tsv",
                        help="with --labels tags: merge or rename genres, one 'tag as written<TAB>label' a line")
    parser.add_argument("--min-songs", type=int, default=labels.DEFAULT_MIN_SONGS, metavar="N",
                        help="with --labels tags: set aside genres with fewer songs (default: %(default)s)")
    parser.add_argument("--dry-run", action="store_true",
                        help="with --labels tags: print the tag summary, write FEATURES.labels.csv, read no audio")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    sources = sum([args.dataset_dir is not None, args.demo, args.download_gtzan])
    if args.prepare_musicnn:
        if sources:
            parser.error("--prepare-musicnn takes no dataset")
        return args
    if sources != 1:
        parser.error("give exactly one of DATASET_DIR, --demo or --download-gtzan")
    if args.output.suffix.lower() != ".csv":
        parser.error(f"-o {args.output}: the features file needs a name ending in .csv")
    if args.workers < 1:
        parser.error(f"--workers must be at least 1 (got {args.workers})")
    if args.max_seconds <= audio.MIN_SECONDS:
        parser.error(f"--max-seconds must be more than {audio.MIN_SECONDS:g} (got {args.max_seconds:g})")
    if args.demo_clips < 1:
        parser.error(f"--demo-clips must be at least 1 (got {args.demo_clips})")
    if args.labels == "tags" and args.dataset_dir is None:
        parser.error("--labels tags reads the genre tags of a LIBRARY folder: give one (not --demo or "
                     "--download-gtzan)")
    if args.labels != "tags" and (args.genre_map or args.dry_run or args.min_songs != labels.DEFAULT_MIN_SONGS):
        parser.error("--genre-map, --min-songs and --dry-run go with --labels tags")
    if args.min_songs < 1:
        parser.error(f"--min-songs must be at least 1 (got {args.min_songs})")
    if args.scheduler and "://" not in args.scheduler:
        parser.error(f"--scheduler must look like tcp://HOST:PORT (got {args.scheduler!r})")
    return args


def dataset_from_args(args: argparse.Namespace) -> Path:
    """The folder to extract: given, unpacked from an archive, synthetic demo (made if missing) or downloaded."""
    if args.demo:
        print(f"Making the SYNTHETIC demo collection in {audio.DEMO_DATASET_DIR} (generated audio, not GTZAN)")
        return synthetic.make_synthetic_collection(audio.DEMO_DATASET_DIR, clips_per_genre=args.demo_clips)
    if args.download_gtzan:
        return gtzan.download_gtzan(args.download_dir, url=args.gtzan_url, md5=args.gtzan_md5 or None,
                                    progress=not args.no_progress)
    if args.dataset_dir.is_file():
        return unpack(args.dataset_dir, args)
    return args.dataset_dir


def unpack(archive: Path, args: argparse.Namespace) -> Path:
    """Unpack an archive's audio under --unpack-dir, say what happened, and return its genre folders."""
    if not gtzan.is_archive(archive):
        raise dataset.DatasetError(f"{archive} is a file, not a folder or a .zip/.tar.gz archive of genre folders")

    def report_refused(line: str) -> None:
        print(line, file=sys.stderr)

    report = gtzan.unpack_archive(archive, args.unpack_dir, progress=not args.no_progress,
                                  on_refused=report_refused)
    print(f"Unpacked {archive}: {report.unpacked} clips written, {report.already_there} already there, "
          f"{report.ignored} other members ignored, {len(report.refused)} refused -> {report.dataset_dir}")
    return report.dataset_dir


def prepare_musicnn() -> int:
    """Convert the musicnn wheel's checkpoint into our weights file (again, if it is there)."""
    import functions_musicnn
    import functions_musicnn_weights

    try:
        path = functions_musicnn_weights.convert_checkpoint()
        functions_musicnn.load_network(weights=path)
    except functions_musicnn_weights.MusicnnUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"musicnn weights ready: {path}")
    return 0


def read_labels(library: Path, args: argparse.Namespace) -> tuple | None:
    """--labels tags: read every song's tags (no audio), print the summary, write FEATURES.labels.csv; the
    (clips, skipped, labels record) to extract, or None (reason printed) where nothing can be trained."""
    genre_map = None
    if args.genre_map is not None:
        genre_map = labels.read_genre_map(args.genre_map)
        for problem in genre_map.problems:
            print(problem, file=sys.stderr)
    scan = labels.label_library(library, genre_map, args.min_songs, progress=not args.no_progress)
    labels_csv = labels.labels_csv_for(args.output)
    try:
        labels.write_labels_csv(scan, labels_csv)
    except OSError as error:
        raise dataset.DatasetError(f"cannot write {labels_csv}: {error.strerror or error}") from None
    print("\n".join(labels.summary_lines(scan, labels_csv)))
    print(f"Every song's tag, label and status: {labels_csv}")
    problem = scan.training_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return None
    return scan.clips, scan.skipped, scan.record()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.prepare_musicnn:
        return prepare_musicnn()
    from tqdm import tqdm

    def report_skip(item: dataset.SkippedItem) -> None:
        tqdm.write(f"skipped {item.file}: {item.error}", file=sys.stderr)

    try:
        dataset_dir = dataset_from_args(args)
        labelled = None
        if args.labels == "tags":
            labelled = read_labels(dataset_dir, args)
            if labelled is None:
                return EXIT_FAILED
            if args.dry_run:
                print("--dry-run: no audio read, no features written.")
                return 0
        print(f"Extracting the {args.features} features of {dataset_dir} -> {args.output}"
              + (f" on the Dask cluster {args.scheduler}" if args.scheduler else f" ({args.workers} workers)"))
        report = dataset.extract_dataset(dataset_dir, args.output, workers=args.workers, scheduler=args.scheduler,
                                         max_seconds=args.max_seconds, overwrite=args.overwrite,
                                         progress=not args.no_progress, on_skip=report_skip,
                                         feature_set=args.features, labelled=labelled,
                                         stream_of=tags.stream_stamp if labelled else None)
    except dataset.DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"\ninterrupted: the finished rows are saved in {args.output}; "
              f"run the same command again to extract the rest", file=sys.stderr)
        return EXIT_INTERRUPTED

    rows = report.rows_from_earlier_run + report.rows_extracted
    print(f"Wrote {rows} rows to {report.output_csv} in {report.seconds:.1f} s "
          f"({report.rows_extracted} extracted now, {report.rows_from_earlier_run} kept from an earlier run).")
    changed, stamps_name = report.rows_of_changed_files, stamps.stamps_csv_for(report.output_csv).name
    clips_again = f"Extracted {changed} clip{'s' * (changed != 1)} again"
    if changed and report.stamps_problem:
        print(f"{clips_again}: {stamps_name} is {report.stamps_problem}, so the files of the earlier rows could "
              f"not be checked.")
    elif changed:
        how = ("their audio differs: another song or encoding, or a file whose audio cannot be compared" if labelled
               else "their size or modification time differs")
        print(f"{clips_again}: {'their files' if changed != 1 else 'its file'} changed since the rows were made "
              f"({how}; {stamps_name} keeps each file's stamp).")
    if report.rows_unchecked:
        rows_kept = f"{report.rows_unchecked} row{'s' * (report.rows_unchecked != 1)}"
        print(f"Kept {rows_kept} of a run before {stamps_name} existed without checking their files (none was "
              f"modified after that run's CSV); they are stamped now. --overwrite extracts everything again.")
    if report.rows_set_aside:
        print(f"Set aside {report.rows_set_aside} rows made with other settings ({report.settings_change}) "
              f"as {report.set_aside_csv}; their clips were extracted again.")
    if report.stale_rows_dropped:
        print(f"Dropped {report.stale_rows_dropped} rows of files no longer in {dataset_dir}"
              + (" or no longer labelled (untagged, or their genre set aside)." if labelled else "."))
    if report.skipped:
        print(f"Skipped {len(report.skipped)} files or folders; reasons in {report.errors_csv}.")
    lost = sum(item.error.startswith(WORKER_DIED) for item in report.skipped)
    if lost:
        print(f"{lost} clip{'s' * (lost > 1)} lost {'their' if lost > 1 else 'its'} worker process (killed, or out "
              f"of memory): run the same command again to extract {'them' if lost > 1 else 'it'}.")
    if rows == 0:
        print("error: no clip could be used", file=sys.stderr)
        return EXIT_FAILED
    train = {"classic": "   (train the 85col network)",
             "musicnn": " --architecture musicnn100   (a network on the musicnn tag statistics)",
             "all": " --candidate musicnn185+reg-ens10   (the shipped model's recipe; without it: the 85col network"
                    " on the classic columns)"}[args.features]
    print(f"Next: python 01_nn_hyperparam.py {report.output_csv}   (compare networks), or\n"
          f"      python 02_train_model.py {report.output_csv} -o outputs/model{train}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
