"""More like this (functions_similarity, 03 --like): neighbours with known answers, songs reached twice shown once,
the playlist file, one-line errors (a library of another vector version, an empty or foreign file, an unreadable
query song, a model that reads only classic features), vectors stored by scans and old records upgraded.

Libraries are results files written here with hand-made vectors (their songs' files exist but hold no audio: a
song of the library is compared by its stored vector, never read), or scans of short synthetic songs by a model
that reads the musicnn columns (written by hand: a softmax layer with seeded random weights; the genre it gives
does not matter here). The real musicnn network runs (the project's set-up converts its weights). One test needs
the shared reference data and skips without it.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from helpers_classify import run_classifier, synthetic_song, write_wav

import functions_analysis as fa
import functions_audio as audio
import functions_library as fl
import functions_library_vectors as flv
import functions_projection as fproj
import functions_records as frec
import functions_similarity as fsim

GENRES = ("blues", "classical", "metal", "reggae")
PLAIN = fproj.Projection("plain cosine", np.zeros(frec.EMBEDDING_DIM, np.float32),
                        np.zeros((frec.EMBEDDING_DIM, 0), np.float32), 0.0)


# --- models and libraries ------------------------------------------------------------------------------------
def write_model(folder: Path, columns: tuple[str, ...], seed: int = 0) -> Path:
    """A model folder (format 2, one softmax layer with seeded random weights) reading ``columns``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    width = len(columns)
    np.savez(folder / "weights.npz", norm_mean=np.zeros(width, np.float32), norm_variance=np.ones(width, np.float32),
             dense_0_kernel=rng.normal(0, 0.1, (1, width, len(GENRES))).astype(np.float32),
             dense_0_bias=np.zeros((1, len(GENRES)), np.float32))
    meta = {"format_version": 2, "genres": list(GENRES), "feature_columns": list(columns), "activations": ["softmax"],
            "members": 1}
    (folder / "model.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture(scope="module")
def musicnn_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_model(tmp_path_factory.mktemp("models") / "musicnn", audio.MUSICNN_COLUMNS)


@pytest.fixture(scope="module")
def classic_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_model(tmp_path_factory.mktemp("models") / "classic", audio.CLASSIC_COLUMNS)


def record(path: Path, vector: np.ndarray | None, genre: str = "metal", duration_s: float = 30.0,
           title: str | None = None) -> dict:
    """The record a scan writes for a song whose analysis gave ``vector`` as its tag means."""
    result = fa.SongResult(input=str(path), title=title or path.stem, duration_s=duration_s, genre=genre,
                           probabilities={genre: 0.9}, tag_means=vector)
    info = path.stat()
    return fl.record_for(result, (info.st_size, info.st_mtime_ns), "model-key")


def write_results(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=True) + "\n" for r in records), encoding="ascii")
    return path


def song_file(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(b"not audio: a song of the library is never read for a query")
    return folder / name


def basis(i: int) -> np.ndarray:
    v = np.zeros(frec.EMBEDDING_DIM, np.float32)
    v[i] = 1.0
    return v


def clusters(seed: int = 3) -> list[np.ndarray]:
    """Three songs near each of three distinct tag profiles (cluster k: rows 3k, 3k+1, 3k+2)."""
    rng = np.random.default_rng(seed)
    centres = rng.beta(0.5, 3.0, (3, frec.EMBEDDING_DIM))
    return [np.clip(centres[k] + rng.normal(0, 0.002, frec.EMBEDDING_DIM), 0, 1).astype(np.float32)
            for k in range(3) for _ in range(3)]


def state(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def strict_json(line: str) -> object:
    """``line`` parsed as JSON proper: NaN, Infinity and -Infinity are refused (Python's reader accepts them)."""
    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(line, parse_constant=refuse)


def one_error_line(run) -> str:
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in run.stderr, run.stderr
    return lines[0]


# --- neighbours with known answers ---------------------------------------------------------------------------
def test_nearest_neighbours_of_a_small_library_are_the_known_ones(tmp_path):
    music = tmp_path / "music"
    e1, e2, e3 = basis(0), basis(1), basis(2)
    vectors = {"query": e1, "close": e1 + 0.1 * e2, "nearer half": e1 + 0.5 * e2, "diagonal": e1 + e2,
               "orthogonal": e2, "other": e3}
    files = {name: song_file(music, f"{name}.wav") for name in vectors}
    results = write_results(tmp_path / "r.jsonl", [record(files[n], v) for n, v in vectors.items()])
    library = fsim.load_library(results, projection=PLAIN)
    assert library.records == 6 and sorted(library.paths) == sorted(str(f) for f in files.values())
    found, duplicates, vanished = library.neighbours(e1, 3, exclude={library.index[str(files["query"])]})
    assert [library.paths[row] for row, _ in found] == [str(files[n]) for n in ("close", "nearer half", "diagonal")]
    assert [s for _, s in found] == pytest.approx([1 / np.sqrt(1.01), 1 / np.sqrt(1.25), 1 / np.sqrt(2)], abs=1e-6)
    assert (duplicates, vanished) == (0, 0)

    # the shipped projection: a song's nearest are the two others of its tag profile, scored as defined
    paths = [song_file(music, f"profile {k}.wav") for k in range(9)]
    rows = clusters()
    results = write_results(tmp_path / "c.jsonl", [record(p, v) for p, v in zip(paths, rows, strict=True)])
    library = fsim.load_library(results)
    found, _, _ = library.neighbours(rows[4], 8, exclude={library.index[str(paths[4])]})
    assert {library.paths[row] for row, _ in found[:2]} == {str(paths[3]), str(paths[5])}
    expected = fproj.PROJECTION(np.vstack(rows)) @ fproj.PROJECTION(rows[4])[0]
    assert [s for _, s in found] == pytest.approx(sorted(np.delete(expected, 4), reverse=True), abs=1e-5)

    run = run_classifier("--like", paths[4], "--results", results, "--top", "2", "--json")
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [line["rank"] for line in lines] == [1, 2]
    assert {line["path"] for line in lines} == {str(paths[3]), str(paths[5])}
    assert lines[0]["similarity"] >= lines[1]["similarity"] and lines[0]["title"].startswith("profile ")
    text = run_classifier("--like", paths[4], "--results", results, "--top", "2")
    assert text.returncode == 0 and text.stdout.startswith("Songs like profile 4 (")
    assert {line.split("[")[-1].rstrip("]") for line in text.stdout.splitlines()[1:]} == {str(paths[3]),
                                                                                        str(paths[5])}


def test_a_song_reached_twice_is_listed_once_and_the_querys_own_copies_not_at_all(tmp_path):
    music = tmp_path / "music"
    a, b, c = (song_file(music, f"{name}.wav") for name in ("a", "b", "c"))
    os.link(a, music / "a hard link.wav")
    shutil.copy(a, music / "a copy.wav")
    (music / "b link.wav").symlink_to(b)
    shutil.copy(b, music / "b copy.wav")
    va, vb, vc = clusters()[0], clusters()[3], clusters()[6]
    records = [record(a, va), record(music / "a hard link.wav", va), record(music / "a copy.wav", va.copy()),
               record(b, vb), record(music / "b link.wav", vb), record(music / "b copy.wav", vb.copy()),
               record(c, vc)]
    results = write_results(tmp_path / "r.jsonl", records)
    run = run_classifier("--like", a, "--results", results, "--json")
    assert run.returncode == 0, run.stderr
    listed = [json.loads(line)["path"] for line in run.stdout.splitlines()]
    assert len(listed) == 2 and str(c) in listed
    assert (set(listed) - {str(c)}) < {str(b), str(music / "b link.wav"), str(music / "b copy.wav")}
    assert "left out: 4 song(s) reached twice" in run.stderr
    # the query through a link of the library's file is the same song: its stored vector, itself not listed
    run = run_classifier("--like", music / "b link.wav", "--results", results, "--json")
    assert run.returncode == 0, run.stderr
    assert [Path(json.loads(line)["path"]).name for line in run.stdout.splitlines()][-1] == "c.wav"
    assert all("b" not in Path(json.loads(line)["path"]).name for line in run.stdout.splitlines())


def test_the_playlist_lists_the_neighbours_in_order_with_relative_paths_and_titles(tmp_path):
    music = tmp_path / "Müsic"
    paths = [song_file(music / ("sub" if k % 2 else ""), f"profile {k}.wav") for k in range(9)]
    rows = clusters()
    results = write_results(tmp_path / "r.jsonl", [record(p, v, duration_s=100.0 + k, title=f"Tïtle {k}")
                                                   for k, (p, v) in enumerate(zip(paths, rows, strict=True))])
    before = state(results)
    playlist = tmp_path / "lists ä" / "like profile 0.m3u8"
    run = run_classifier("--like", paths[0], "--results", results, "--top", "4", "--playlist", playlist, "--json")
    assert run.returncode == 0, run.stderr
    listed = [json.loads(line) for line in run.stdout.splitlines()]
    lines = playlist.read_bytes().decode("utf-8").splitlines()
    assert lines[0] == "#EXTM3U" and len(lines) == 1 + 2 * 4
    for song, info, where in zip(listed, lines[1::2], lines[2::2], strict=True):
        k = int(Path(song["path"]).stem.split()[-1])
        assert info == f"#EXTINF:{100 + k},Tïtle {k}"
        assert not where.startswith("/") and (playlist.parent / where).resolve() == Path(song["path"]).resolve()
    assert {int(Path(s["path"]).stem.split()[-1]) for s in listed[:2]} == {1, 2}
    assert f"playlist written: {playlist} (4 songs)" in run.stderr
    assert state(results) == before  # a query never changes the results file


# --- errors: one line each -----------------------------------------------------------------------------------
def test_an_unusable_library_is_one_line_and_exit_1_and_the_file_is_never_changed(tmp_path):
    music = tmp_path / "music"
    paths = [song_file(music, f"profile {k}.wav") for k in range(9)]
    rows = clusters()
    current = [record(p, v) for p, v in zip(paths, rows, strict=True)]
    other = [{**r, frec.VERSION_FIELD: "MSD_musicnn:penultimate:9", frec.EMBEDDING_FIELD: "AAAA"} for r in current]
    files = {"other version": write_results(tmp_path / "other.jsonl", other),
             "empty": write_results(tmp_path / "empty.jsonl", []),
             "foreign": tmp_path / "notes.txt",
             "no vectors": write_results(tmp_path / "classic.jsonl", [record(p, None) for p in paths])}
    files["foreign"].write_text('{"path": "/a/song.wav", "mine": true}\nsome notes\n')
    expected = {"other version": "its similarity vectors are of another version (MSD_musicnn:penultimate:9; this "
                                 f"program compares {frec.EMBEDDING_VERSION}), so they cannot be compared: scan again",
                "empty": "holds no song yet: scan your music into it first",
                "foreign": "is not a results file of this program (no song record in it)",
                "no vectors": "none of its 9 songs has a similarity vector (they failed, or were scanned with a model "
                              "that reads only classic features"}
    for name, results in files.items():
        before = state(results)
        run = run_classifier("--like", paths[0], "--results", results)
        assert run.returncode == 1 and run.stdout == "", (name, run.stderr)
        line = one_error_line(run)
        assert expected[name] in line and str(results) in line, (name, line)
        assert state(results) == before, name
    run = run_classifier("--like", paths[0], "--results", tmp_path / "missing.jsonl")
    assert run.returncode == 1 and "no results file" in one_error_line(run)
    assert not (tmp_path / "missing.jsonl").exists()

    # some songs of another version: the others are compared, one line says which were left out
    mixed = write_results(tmp_path / "mixed.jsonl", current[:6] + other[6:])
    run = run_classifier("--like", paths[0], "--results", mixed, "--json")
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.splitlines()) == 5
    assert "6 songs compared; left out: 3 with vectors of another version (MSD_musicnn:penultimate:9)" in run.stderr


def test_a_query_song_that_cannot_be_read_or_has_no_vector_is_one_line(tmp_path, musicnn_model, classic_model):
    music = tmp_path / "music"
    paths = [song_file(music, f"profile {k}.wav") for k in range(9)]
    results = write_results(tmp_path / "r.jsonl", [record(p, v) for p, v in zip(paths, clusters(), strict=True)])
    before = state(results)
    broken = tmp_path / "new" / "broken.wav"
    broken.parent.mkdir()
    broken.write_bytes(b"RIFF\xff\xff\xff\xffWAVEfmt " + bytes(range(256)) * 8)
    run = run_classifier("--like", broken, "--results", results, "--model", musicnn_model)
    assert run.returncode == 1 and one_error_line(run).startswith(f"error: {broken}: cannot be analysed (")
    run = run_classifier("--like", tmp_path / "nowhere.wav", "--results", results, "--model", musicnn_model)
    assert run.returncode == 1 and one_error_line(run) == f"error: {tmp_path / 'nowhere.wav'}: cannot be analysed " \
                                                          "(no such file)"
    song = write_wav(tmp_path / "new" / "song.wav", synthetic_song([("metal", 4.0)]))
    run = run_classifier("--like", song, "--results", results, "--model", classic_model)
    assert run.returncode == 1
    assert one_error_line(run) == (f"error: {song}: no similarity vector: the model {classic_model} reads only "
                                   "classic features, so the musicnn network did not run; use --model with a model "
                                   "that reads musicnn columns")
    run = run_classifier("--like", song, "--results", results, "--model", tmp_path / "no model")
    assert run.returncode == 2 and "model" in one_error_line(run)
    run = run_classifier("--like", song)
    assert run.returncode == 2 and "--like needs --results" in run.stderr
    assert state(results) == before


# --- scans store the vector; old records are upgraded --------------------------------------------------------
def test_scans_store_vectors_upgrade_old_records_and_like_analyses_a_new_song(tmp_path, musicnn_model,
                                                                              classic_model):
    music = tmp_path / "music"
    songs = {genre: write_wav(music / f"{genre}.wav", synthetic_song([(genre, 5.0)], seed=k))
             for k, genre in enumerate(("metal", "classical", "reggae", "blues"))}
    samples, rate = soundfile.read(songs["metal"], dtype="int16")
    soundfile.write(music / "metal copy.flac", samples, rate, subtype="PCM_16")  # the same audio, another format
    results = tmp_path / "r.jsonl"
    run = run_classifier(music, "--model", musicnn_model, "--results", results, "--workers", "2")
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(records) == 5
    assert all(list(r)[-2:] == [frec.VERSION_FIELD, frec.EMBEDDING_FIELD] for r in records)
    vectors = {Path(r["path"]).name: frec.decode_vector(r[frec.EMBEDDING_FIELD]) for r in records}
    assert vectors["metal.wav"].shape == (frec.EMBEDDING_DIM,)
    np.testing.assert_array_equal(vectors["metal.wav"], vectors["metal copy.flac"])

    # an old results file: records without the vector are redone, and only they
    lines = results.read_text().splitlines()
    old = json.loads(lines[0])
    del old[frec.VERSION_FIELD], old[frec.EMBEDDING_FIELD]
    results.write_text("\n".join([json.dumps(old), *lines[1:]]) + "\n")
    again = run_classifier(music, "--model", musicnn_model, "--results", results)
    assert "library: 1 classified, 0 uncertain, 0 failed, 4 skipped as unchanged" in again.stderr, again.stderr
    upgraded = next(json.loads(line) for line in results.read_text().splitlines()
                    if json.loads(line)["path"] == old["path"])
    np.testing.assert_array_equal(frec.decode_vector(upgraded[frec.EMBEDDING_FIELD]),
                                  vectors[Path(old["path"]).name])

    # a model that reads only classic features: no vector, and a rerun does not redo the songs for one
    plain = tmp_path / "classic.jsonl"
    assert run_classifier(music, "--model", classic_model, "--results", plain).returncode == 0
    assert all(frec.EMBEDDING_FIELD not in json.loads(line) for line in plain.read_text().splitlines())
    again = run_classifier(music, "--model", classic_model, "--results", plain)
    assert "library: 0 classified, 0 uncertain, 0 failed, 5 skipped as unchanged" in again.stderr

    # a new file with the same audio as metal.wav: analysed; metal.wav and its FLAC copy are the same song
    elsewhere = shutil.copy(songs["metal"], tmp_path / "my metal.wav")
    run = run_classifier("--like", elsewhere, "--results", results, "--model", musicnn_model, "--json")
    assert run.returncode == 0, run.stderr
    assert f"{elsewhere}: not in the library (or changed since its scan): analysed now" in run.stderr
    listed = [Path(json.loads(line)["path"]).name for line in run.stdout.splitlines()]
    assert sorted(listed) == ["blues.wav", "classical.wav", "reggae.wav"]
    assert "left out: 2 song(s) reached twice" in run.stderr


def test_the_reader_keeps_the_last_record_of_a_path_and_skips_torn_and_damaged_lines(tmp_path):
    music = tmp_path / "music"
    paths = [song_file(music, f"song {k}.wav") for k in range(3)]
    rows = clusters()
    first = record(paths[0], rows[0])
    later = record(paths[0], rows[5])
    damaged = {**record(paths[1], rows[1]), frec.EMBEDDING_FIELD: "!!not base64!!"}
    same_length = {**record(paths[1], rows[1]), frec.EMBEDDING_FIELD: "A==" + "x" * (frec.VECTOR_TEXT_LENGTH - 3)}
    unusual = record(paths[2], rows[2])
    unusual = {frec.EMBEDDING_FIELD: unusual.pop(frec.EMBEDDING_FIELD), **unusual}  # the vector not last
    results = write_results(tmp_path / "r.jsonl", [first, same_length, damaged, later, unusual])
    with open(results, "a") as out:
        out.write(json.dumps(record(paths[1], rows[8]))[:70])  # torn by a kill
    library = fsim.load_library(results)
    assert library.records == 3 and library.unusable == 1 and library.without_vector == 0  # the damaged vector
    assert library.paths == [str(paths[0]), str(paths[2])]  # in the order of their latest records
    np.testing.assert_array_equal(library.raw[library.index[str(paths[0])]], rows[5])
    np.testing.assert_array_equal(library.raw[library.index[str(paths[2])]], rows[2])
    assert library.record(library.index[str(paths[0])])["path"] == str(paths[0])
    assert library.notes() == [f"{results}: 2 songs compared; left out: 1 with an unusable vector (not 50 finite "
                               "numbers): a scan with this program recomputes them",
                               f"{results}: 1 torn or unreadable line(s) ignored"]


# --- the whole library as the answer -------------------------------------------------------------------------
def reference_neighbours(library: fsim.LibraryVectors, query: np.ndarray) -> list[int]:
    """Every row, most similar first, without copies of the query or of a row listed before (the definition,
    written plainly: each row against all rows kept so far)."""
    similarity = library.vectors @ fproj.PROJECTION(query)[0]
    kept = np.empty((len(library.paths) + 1, frec.EMBEDDING_DIM), np.float32)
    kept[0], count, rows = query, 1, []
    for row in np.argsort(-similarity, kind="stable"):
        if np.abs(kept[:count] - library.raw[row]).max(axis=1).min() > flv.DUPLICATE_TOLERANCE:
            kept[count], count = library.raw[row], count + 1
            rows.append(int(row))
    return rows


def test_the_whole_library_as_the_answer_is_near_linear_and_leaves_out_the_same_copies(tmp_path):
    rng = np.random.default_rng(5)
    songs = 20_000
    raw = np.clip(rng.beta(0.5, 3.0, (40, frec.EMBEDDING_DIM))[rng.integers(0, 40, songs)]
                  + rng.normal(0, 0.05, (songs, frec.EMBEDDING_DIM)), 0, 1).astype(np.float32)
    tolerance = flv.DUPLICATE_TOLERANCE
    raw[1] = raw[0]  # equal
    raw[2] = raw[0] + np.float32(0.9 * tolerance)  # within the tolerance in every value: the same song
    raw[3] = raw[0]
    raw[3, 7] += 3 * tolerance  # one value beyond it: another song
    raw[4] = raw[5] - np.float32(0.9 * tolerance) * np.sign(rng.normal(size=frec.EMBEDDING_DIM))
    raw[10:20] = raw[9] + rng.uniform(-0.4, 0.4, (10, frec.EMBEDDING_DIM)).astype(np.float32) * tolerance
    paths = [f"https://example.org/song/{i}" for i in range(songs)]  # URLs: no file to look at
    library = fsim.LibraryVectors.from_vectors(paths, raw)

    query = raw[100]
    started = time.perf_counter()
    found, duplicates, vanished = library.neighbours(query, songs, exclude={100})
    seconds = time.perf_counter() - started
    rows = [row for row, _ in found]
    assert seconds < 3, seconds  # near-linear: 0.15 s here; each song against every kept one took minutes
    assert len(rows) + duplicates == songs - 1 and duplicates == 2 + 1 + 10 and vanished == 0
    part = fsim.LibraryVectors.from_vectors(paths[:2000], raw[:2000])
    assert [row for row, _ in part.neighbours(query, 2000, exclude={100})[0]] == [
        row for row in reference_neighbours(part, query) if row != 100]
    assert 3 in rows and len({0, 1, 2} & set(rows)) == 1 and len({4, 5} & set(rows)) == 1
    similarities = [s for _, s in found]
    assert similarities == sorted(similarities, reverse=True)

    # a small library against the plain definition, with many copies near each other
    small = fsim.LibraryVectors.from_vectors(paths[:300], np.repeat(raw[:30], 10, axis=0)
                                             + rng.uniform(-0.6, 0.6, (300, frec.EMBEDDING_DIM)).astype(np.float32)
                                             * tolerance)
    found, duplicates, _ = small.neighbours(raw[500], 300)
    assert [row for row, _ in found] == reference_neighbours(small, raw[500]) and len(found) + duplicates == 300


def test_the_whole_library_listed_gives_each_song_the_fields_of_its_record(tmp_path):
    music = tmp_path / "music"
    titles = ['a "quoted" title', "back\\slash \\", "naïve café – 日本", "two\nlines", "", None, "tab\there",
              '", "genre": "fake', "a, comma", "#hash"]
    rows = clusters(7) + clusters(8)
    records = []
    for k, vector in enumerate(rows):
        song = song_file(music, f"song {k:02d}.wav")
        rec = record(song, vector, genre=frec.MUSICNN_TAGS[k] if k % 3 else "metal", duration_s=60.0 + k,
                     title=titles[k % len(titles)] or "untitled")
        rec["title"] = titles[k % len(titles)]
        records.append(rec)
    records[4]["duration_s"] = float("nan")  # a record written by an older scan
    records[5]["duration_s"] = None
    records[6] = {"model": "model-key", **records[6]}  # another order of the fields
    results = tmp_path / "r.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in records))
    run = run_classifier("--like", music / "song 00.wav", "--results", results, "--top", "1000", "--json")
    assert run.returncode == 0, run.stderr
    listed = [strict_json(line) for line in run.stdout.splitlines()]
    assert len(listed) == len(records) - 1
    by_path = {r["path"]: r for r in records}
    for song in listed:
        expected = by_path[song["path"]]
        assert (song["title"], song["genre"]) == (expected["title"], expected["genre"]), song
        duration = expected["duration_s"]
        assert song["duration_s"] == (None if duration is None or duration != duration else duration), song
    # json_lines (the lines at once) writes what json.dumps writes of each song
    answer = fsim.find_like(str(music / "song 00.wav"), results, 1000, job=None)
    answer.neighbours[0].duration_s = 61  # a whole number given as an int
    assert fsim.json_lines(answer).split("\n") == [json.dumps(n.to_json_dict(), ensure_ascii=False)
                                                   for n in answer.neighbours]

# --- vectors that are not 50 finite numbers ------------------------------------------------------------------
def unusable_vectors() -> dict[str, str]:
    """Stored vectors that are not 50 finite float32, as a damaged or foreign writer could leave them."""
    nan, inf = basis(0), basis(1)
    nan[3], inf[7] = np.nan, np.inf
    return {"nan": frec.encode_vector(nan), "inf": frec.encode_vector(inf),
            "minus inf": frec.encode_vector(-inf), "49 values": frec.encode_vector(np.full(49, 0.1, np.float32))}


def test_vectors_with_nan_or_inf_are_no_vector_and_the_answer_is_strict_json(tmp_path, musicnn_model):
    music = tmp_path / "music"
    paths = [song_file(music, f"profile {k}.wav") for k in range(9)]
    records = [record(p, v) for p, v in zip(paths, clusters(), strict=True)]
    huge = song_file(music, "huge.wav")  # finite, but its projection overflows float32
    records.append(record(huge, np.full(frec.EMBEDDING_DIM, 3e38, np.float32)))
    bad = {name: song_file(music, f"{name}.wav") for name in unusable_vectors()}
    for name, text in unusable_vectors().items():
        records.append({**record(bad[name], basis(0)), frec.EMBEDDING_FIELD: text})
    query = write_wav(music / "query.wav", synthetic_song([("metal", 4.0)]))
    records.append({**record(query, basis(0)), frec.EMBEDDING_FIELD: unusable_vectors()["nan"]})
    results = write_results(tmp_path / "r.jsonl", records)
    before = state(results)

    run = run_classifier("--like", paths[0], "--results", results, "--top", "100", "--json")
    assert run.returncode == 0, run.stderr
    listed = [strict_json(line) for line in run.stdout.splitlines()]
    assert {song["path"] for song in listed} == {str(p) for p in [*paths[1:], huge]}
    similarities = [song["similarity"] for song in listed]
    assert all(np.isfinite(similarities)) and similarities == sorted(similarities, reverse=True)
    assert "Warning" not in run.stderr
    assert run.stderr.splitlines() == [f"{results}: 10 songs compared; left out: 5 with an unusable vector (not 50 "
                                       "finite numbers): a scan with this program recomputes them"]
    text = run_classifier("--like", paths[0], "--results", results, "--top", "100")
    assert text.returncode == 0 and len(text.stdout.splitlines()) == 1 + 9
    assert all(np.isfinite(float(line.split()[1])) for line in text.stdout.splitlines()[1:])

    # the query's own record holds NaN: it has no vector, so the song is analysed; the answer is ordered
    run = run_classifier("--like", query, "--results", results, "--model", musicnn_model, "--json", "--top", "100")
    assert run.returncode == 0, run.stderr
    assert f"{query}: not in the library (or changed since its scan): analysed now" in run.stderr
    listed = [strict_json(line) for line in run.stdout.splitlines()]
    similarities = [song["similarity"] for song in listed]
    assert len(listed) == 10 and all(np.isfinite(similarities))
    assert similarities == sorted(similarities, reverse=True)
    assert state(results) == before

    library = fsim.load_library(results)
    assert library.unusable == 5 and np.isfinite(library.vectors).all()
    for text in unusable_vectors().values():
        vector = np.frombuffer(base64.b64decode(text), "<f4")
        with pytest.raises(fsim.SimilarityError, match="not 50 finite numbers"):
            library.neighbours(vector, 3)


def test_a_rescan_recomputes_vectors_that_are_not_50_finite_numbers(tmp_path, musicnn_model):
    music = tmp_path / "music"
    for k, genre in enumerate(("metal", "classical", "reggae")):
        write_wav(music / f"{genre}.wav", synthetic_song([(genre, 3.0)], seed=k))
    results = tmp_path / "r.jsonl"
    run = run_classifier(music, "--model", musicnn_model, "--results", results)
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in results.read_text().splitlines()]
    vectors = {r["path"]: r[frec.EMBEDDING_FIELD] for r in records}
    records[0][frec.EMBEDDING_FIELD] = unusable_vectors()["nan"]
    records[1][frec.EMBEDDING_FIELD] = unusable_vectors()["49 values"]
    write_results(results, records)
    again = run_classifier(music, "--model", musicnn_model, "--results", results)
    assert "library: 2 classified, 0 uncertain, 0 failed, 1 skipped as unchanged" in again.stderr, again.stderr
    assert {r["path"]: r[frec.EMBEDDING_FIELD] for r in map(json.loads, results.read_text().splitlines())} == vectors
    assert "skipped as unchanged" in run_classifier(music, "--model", musicnn_model, "--results", results).stderr

# --- torn and unreadable lines -------------------------------------------------------------------------------
def test_torn_and_unreadable_lines_are_the_scans_one_note_line(tmp_path):
    music = tmp_path / "music"
    paths = [song_file(music, f"profile {k}.wav") for k in range(9)]
    lines = [json.dumps(record(p, v)) + "\n" for p, v in zip(paths, clusters(), strict=True)]
    damaged = [lines[0][:70] + "\n",  # a record torn in the middle of the file
               "\n",  # an empty line
               "some notes\n",
               lines[1][:-2] + "\n",  # its closing brace lost
               lines[2].replace('"path": "', '"path": ', 1)]  # a path that is no string
    results = tmp_path / "r.jsonl"
    results.write_text("".join(lines[:4] + damaged + lines[4:]) + lines[5][:100])  # and a torn last line
    before = state(results)
    scan = fl.ResultsFile(results)
    scan._read()  # what a scan of this file says (reading only)
    assert scan.dropped_lines == 6
    run = run_classifier("--like", paths[0], "--results", results, "--top", "100", "--json")
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == [f"{results}: 6 torn or unreadable line(s) ignored"]
    assert sorted(json.loads(line)["path"] for line in run.stdout.splitlines()) == sorted(set(scan.entries) - {
        str(paths[0])})
    assert state(results) == before


def test_a_line_longer_than_any_record_is_skipped_without_reading_it_whole(tmp_path, monkeypatch):
    import tracemalloc

    music = tmp_path / "music"
    paths = [song_file(music, f"profile {k}.wav") for k in range(9)]
    lines = [(json.dumps(record(p, v)) + "\n").encode() for p, v in zip(paths, clusters(), strict=True)]
    junk = b"x" * (24 << 20)  # 24 MB without a newline, the limit set to 1 MB below
    head = b"".join(lines[:5])
    for name, content in (("middle", head + junk + b"\n" + b"".join(lines[5:])),
                          ("newline last in a block", head + junk[:(30 << 16) - len(head) - 1] + b"\n"
                           + b"".join(lines[5:])),
                          ("end", b"".join(lines) + junk)):
        results = tmp_path / f"{name}.jsonl"
        results.write_bytes(content)
        monkeypatch.setattr(flv, "READ_BLOCK", 1 << 16)
        monkeypatch.setattr(frec, "LONGEST_LINE", 1 << 20)
        tracemalloc.start()
        try:
            library = fsim.load_library(results)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 4 << 20, (name, peak)  # the limit, a block and the library; the whole line took 48 MB
        assert sorted(library.paths) == sorted(map(str, paths)), name
        assert library.notes() == [f"{results}: 1 torn or unreadable line(s) ignored"], name

# --- odd file names ------------------------------------------------------------------------------------------
def test_odd_file_names_are_one_line_each_in_the_answer_and_reach_the_playlist(tmp_path):
    music = tmp_path / "music"
    names = [b"caf\xe9 latin-1.wav", b"new\nline.wav", b"carriage\rreturn.wav", b"#hash.wav", b'say "hi".wav',
             b"a, comma.wav", b"tab\there.wav", b"back\\slash.wav", "Müller.wav".encode(), b"plain.wav"]
    paths = [song_file(music, os.fsdecode(name)) for name in names]
    vectors = (clusters() + clusters(4))[:len(paths)]
    results = write_results(tmp_path / "r.jsonl", [record(p, v, title=p.stem) for p, v in zip(paths, vectors,
                                                                                              strict=True)])
    playlist = music / "like.m3u8"  # beside the songs: '#hash.wav' is a relative location
    command = [sys.executable, str(fl.__file__).replace("functions_library.py", "03_launch_classifier.py"),
               "--like", paths[-1], "--results", results, "--top", "100"]
    run = subprocess.run([*map(str, command), "--playlist", str(playlist)], capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.decode("utf-8").splitlines()  # strict UTF-8, one line per song
    assert len(lines) == len(names) and all(line.isprintable() for line in lines)
    shown = {line.rsplit("  [", 1)[1][:-1] for line in lines[1:]}
    assert str(music / "new\\nline.wav") in shown and str(music / "caf\\xe9 latin-1.wav") in shown
    assert str(music / 'say "hi".wav') in shown and str(music / "back\\slash.wav") in shown
    from urllib.parse import unquote_to_bytes

    places = playlist.read_bytes().decode("utf-8").splitlines()[2::2]
    found = {unquote_to_bytes(p[len("file://"):]) if p.startswith("file://") else os.fsencode(music / p)
             for p in places}
    assert {os.path.normpath(f) for f in found} == {os.fsencode(p) for p in paths[:-1]}

    run = subprocess.run([*map(str, command), "--json"], capture_output=True, timeout=120)
    listed = [json.loads(line) for line in run.stdout.decode("utf-8", "surrogateescape").splitlines()]
    assert sorted(song["path"] for song in listed) == sorted(map(str, paths[:-1]))
    # 03 prints json.dumps(ensure_ascii=False) of each song (a name that is not UTF-8 goes out as its raw bytes);
    # json_lines is always UTF-8, and its paths come back as they are
    answer = fsim.find_like(str(paths[-1]), results, 100, job=None)
    text = fsim.json_lines(answer).encode("utf-8").decode("utf-8")
    assert text.split("\n") == [json.dumps(n.to_json_dict(), ensure_ascii="\udce9" in n.path)
                                 for n in answer.neighbours]
    assert sorted(strict_json(line)["path"] for line in text.splitlines()) == sorted(map(str, paths[:-1]))
    assert "Müller.wav" in text  # names that are UTF-8 as they are

# --- the measured quality, on the shared reference data ------------------------------------------------------
def test_the_shipped_projection_reaches_75_percent_precision_at_10_on_the_artist_filtered_split(shared_data):
    import functions_reference as fr

    taggram = fr.read_taggram(shared_data / fr.TAGGRAM_FILE)
    means = taggram.groupby("file")[list(fr.TAG_COLUMNS)].mean()
    genres = taggram.groupby("file")["genre"].first()
    split = shared_data / "splits" / "gtzan_fault_filtered"
    train, test = ([line for line in (split / f"{name}.txt").read_text().split() if line] for name in ("train", "test"))
    library = fsim.LibraryVectors.from_vectors(train, means.loc[train].to_numpy(np.float32))
    hits = []
    for clip in test:
        similarity = library.vectors @ fproj.PROJECTION(means.loc[clip].to_numpy(np.float32))[0]
        nearest = np.argsort(-similarity, kind="stable")[:10]
        hits.append(np.mean(genres.loc[[train[i] for i in nearest]].to_numpy() == genres.loc[clip]))
    assert np.mean(hits) >= 0.75, np.mean(hits)


def test_write_projection_rewrites_only_its_block_and_the_numbers_come_back(tmp_path, monkeypatch):
    """write_projection (bench_similarity.py --write-projection) on a copy of functions_projection.py: the shipped
    projection writes the file back byte for byte; another one comes back from the rewritten module to 7 digits,
    the code around the block (and the markers inside write_projection itself) untouched; a file without the block
    is refused, not rewritten as it was."""
    import importlib.util

    copy = tmp_path / "functions_projection.py"
    shutil.copyfile(fproj.__file__, copy)
    original = copy.read_text()
    fproj.write_projection(fproj.PROJECTION, copy)
    assert copy.read_text() == original
    rng = np.random.default_rng(5)
    other = fproj.Projection("test-lda", rng.normal(size=50).astype(np.float32),
                             rng.normal(size=(50, 3)).astype(np.float32), 1.5)
    fproj.write_projection(other, copy)
    spec = importlib.util.spec_from_file_location("projection_copy", copy)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "projection_copy", module)  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    assert (module.PROJECTION.name, module.PROJECTION.weight) == ("test-lda", 1.5)
    np.testing.assert_allclose(module.PROJECTION.centre, other.centre, rtol=1e-6)
    np.testing.assert_allclose(module.PROJECTION.scalings, other.scalings, rtol=1e-6)
    text = copy.read_text()
    assert text != original
    assert fproj.PROJECTION_BLOCK.sub("", text) == fproj.PROJECTION_BLOCK.sub("", original)  # all but the block
    copy.write_text(fproj.PROJECTION_BLOCK.sub("", original))
    with pytest.raises(ValueError, match="no '# PROJECTION-BEGIN'"):
        fproj.write_projection(other, copy)
