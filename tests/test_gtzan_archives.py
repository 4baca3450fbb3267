"""Real GTZAN from the copies people hold: 00 given Kaggle's archive.zip or the original genres.tar.gz, unpacked
safely (no escape, no links, no zip bomb, truncated archives kept as far as they go), and the download message."""

from __future__ import annotations

import http.server
import io
import socket
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
from conftest import run_script
from test_preprocess_cli import assert_clean_failure

import functions_audio as audio
from functions_synthetic import synthesize_clip

SR = audio.SAMPLE_RATE
GOOD = {"blues": 2, "metal": 2, "jazz": 1}  # clips per genre; jazz also gets Kaggle's corrupt jazz.00054.wav


def clip_bytes(genre: str, index: int, fmt: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, synthesize_clip(genre, index, 2.0), SR, format=fmt, subtype="PCM_16")
    return buffer.getvalue()


def corrupt_wav() -> bytes:
    """Like Kaggle's jazz.00054.wav: a RIFF name on bytes no decoder can read."""
    return b"RIFF\x24\x00\x00\x00WAVEfmt " + np.random.default_rng(0).bytes(4000)


def kaggle_zip(path: Path, extra: dict[str, bytes] | None = None, link: str | None = None) -> Path:
    """Kaggle's layout: Data/genres_original/<genre>/<genre>.000NN.wav, spectrogram images and feature CSVs."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for genre, count in GOOD.items():
            for index in range(count):
                zf.writestr(f"Data/genres_original/{genre}/{genre}.{index:05d}.wav", clip_bytes(genre, index))
            zf.writestr(f"Data/images_original/{genre}/{genre}00000.png", b"\x89PNG\r\n\x1a\n" + bytes(64))
        zf.writestr("Data/genres_original/jazz/jazz.00054.wav", corrupt_wav())
        zf.writestr("Data/features_30_sec.csv", "filename,length\nblues.00000.wav,661794\n")
        zf.writestr("Data/features_3_sec.csv", "filename,length\nblues.00000.0.wav,66149\n")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (0o120777 << 16)  # a symbolic link, as zip -y stores one
            zf.writestr(info, "/etc/passwd")
    return path


def original_tar(path: Path, extra: dict[str, bytes] | None = None, link: str | None = None,
                 mode: str = "w:gz") -> Path:
    """The original layout: genres/<genre>/<genre>.000NN.au."""
    with tarfile.open(path, mode) as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_000_000_000
            tar.addfile(info, io.BytesIO(data))

        for genre, count in GOOD.items():
            for index in range(count):
                add(f"genres/{genre}/{genre}.{index:05d}.au", clip_bytes(genre, index, "AU"))
        for name, data in (extra or {}).items():
            add(name, data)
        if link:
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
    return path


def files_below(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def extract(archive: Path, tmp_path: Path, *extra: str):
    return run_script("00_preprocess_music.py", archive, "-o", tmp_path / "f.csv", "--unpack-dir",
                      tmp_path / "data", "--workers", "1", "--no-progress", *extra)


def test_kaggle_zip_unpacks_audio_only_lists_the_corrupt_clip_and_refuses_escapes(tmp_path):
    archive = kaggle_zip(tmp_path / "archive.zip", extra={"../evil.wav": clip_bytes("pop", 0),
                                                          "/tmp/absolute.wav": clip_bytes("pop", 1)},
                         link="Data/genres_original/blues/link.wav")
    result = extract(archive, tmp_path)
    assert result.returncode == 0, result.stderr
    data = tmp_path / "data"
    expected_clips = [f"{g}/{g}.{i:05d}.wav" for g, n in GOOD.items() for i in range(n)]
    assert files_below(data) == sorted(f"genres_original/{c}" for c in [*expected_clips, "jazz/jazz.00054.wav"])
    assert not (tmp_path / "evil.wav").exists() and not Path("/tmp/absolute.wav").exists()
    for member in ("../evil.wav", "/tmp/absolute.wav", "Data/genres_original/blues/link.wav"):
        assert f"refused archive member {member}" in result.stderr
    assert sorted(pd.read_csv(tmp_path / "f.csv")["file"]) == sorted(expected_clips)
    errors = pd.read_csv(tmp_path / "f.errors.csv")
    assert list(errors["file"]) == ["jazz/jazz.00054.wav"]
    assert "Unpacked" in result.stdout and "3 refused" in result.stdout

    again = extract(archive, tmp_path)  # a rerun writes nothing again and keeps every row
    assert again.returncode == 0, again.stderr
    assert "0 clips written, 6 already there" in again.stdout
    assert "0 extracted now, 5 kept" in again.stdout


def test_original_tar_gz_layout_unpacks_and_extracts_like_a_folder(tmp_path):
    archive = original_tar(tmp_path / "genres.tar.gz", extra={"genres/../../evil.au": clip_bytes("pop", 0, "AU")},
                           link="genres/blues/link.au")
    result = extract(archive, tmp_path)
    assert result.returncode == 0, result.stderr
    assert files_below(tmp_path / "data") == sorted(
        f"genres/{g}/{g}.{i:05d}.au" for g, n in GOOD.items() for i in range(n))
    assert "refused archive member genres/../../evil.au" in result.stderr
    assert "refused archive member genres/blues/link.au" in result.stderr
    assert len(pd.read_csv(tmp_path / "f.csv")) == 5


def test_the_same_clips_unpacked_from_either_archive_give_the_same_features(tmp_path):
    zipped = extract(kaggle_zip(tmp_path / "archive.zip"), tmp_path / "z")
    tarred = run_script("00_preprocess_music.py", original_tar(tmp_path / "g.tar.gz"), "-o", tmp_path / "t.csv",
                        "--unpack-dir", tmp_path / "t", "--workers", "1", "--no-progress")
    assert zipped.returncode == 0 and tarred.returncode == 0, (zipped.stderr, tarred.stderr)
    z = pd.read_csv(tmp_path / "z/f.csv")
    t = pd.read_csv(tmp_path / "t.csv")
    assert list(z["file"].str.replace(".wav", "")) == list(t["file"].str.replace(".au", ""))
    np.testing.assert_allclose(z.iloc[:, 2:].to_numpy(), t.iloc[:, 2:].to_numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_a_bomb_declaring_a_huge_member_is_refused_before_anything_is_written(tmp_path, kind):
    huge = bytes(100 * 1024**2)  # 100 MB of zeros: compresses to about 100 KB
    name = "Data/genres_original/blues/bomb.wav" if kind == "zip" else "genres/blues/bomb.au"
    archive = (kaggle_zip(tmp_path / "bomb.zip", extra={name: huge}) if kind == "zip"
               else original_tar(tmp_path / "bomb.tar.gz", extra={name: huge}))
    assert archive.stat().st_size < 2 * 1024**2
    result = extract(archive, tmp_path)
    assert_clean_failure(result, 1, "refusing", "bomb", "105 MB")
    assert not (tmp_path / "data" / "genres_original" / "blues" / "bomb.wav").exists()
    assert not list((tmp_path / "data").rglob("bomb*"))
    if kind == "zip":  # a zip names every size up front: nothing at all was written
        assert not (tmp_path / "data").exists() or files_below(tmp_path / "data") == []


def test_a_truncated_tar_gz_is_one_line_and_keeps_what_was_unpacked(tmp_path):
    whole = original_tar(tmp_path / "whole.tar.gz").read_bytes()
    cut = tmp_path / "genres.tar.gz"
    cut.write_bytes(whole[: int(len(whole) * 0.75)])
    result = extract(cut, tmp_path)
    assert_clean_failure(result, 1, "truncated or damaged", "kept", "run the same command again")
    kept = files_below(tmp_path / "data")
    assert 1 <= len(kept) < 5
    assert not [name for name in kept if name.endswith(".part")]
    for name in kept:  # every clip kept is whole
        assert soundfile.info(str(tmp_path / "data" / name)).frames == 2 * SR


def test_a_truncated_zip_is_one_line(tmp_path):
    whole = kaggle_zip(tmp_path / "whole.zip").read_bytes()
    (tmp_path / "archive.zip").write_bytes(whole[: len(whole) // 2])
    assert_clean_failure(extract(tmp_path / "archive.zip", tmp_path), 1, "archive.zip", "truncated or damaged")


def test_a_file_that_is_not_an_archive_is_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    assert_clean_failure(extract(tmp_path / "notes.txt", tmp_path), 1, "notes.txt", "not a folder")


# --------------------------------------------------------------------------------------------------------------
# --download-gtzan: what the message says when the address fails
# --------------------------------------------------------------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_download_that_cannot_start_points_to_the_copies_people_have(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/sound/genres.tar.gz"
    result = run_script("00_preprocess_music.py", "--download-gtzan", "--gtzan-url", url,
                        "--download-dir", tmp_path / "dl", "-o", tmp_path / "f.csv")
    assert_clean_failure(result, 1, "unreliable since 2022", "archive.zip", "00_preprocess_music.py")
    assert "resume" not in result.stderr


class HalfHandler(http.server.BaseHTTPRequestHandler):
    """Announces the whole archive, sends half of it, and drops the connection."""

    payload = bytes(200_000)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        self.wfile.write(self.payload[: len(self.payload) // 2])
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, *args) -> None:
        pass


def test_a_download_that_stops_part_way_suggests_resuming(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HalfHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/sound/genres.tar.gz"
        result = run_script("00_preprocess_music.py", "--download-gtzan", "--gtzan-url", url,
                            "--download-dir", tmp_path / "dl", "-o", tmp_path / "f.csv", timeout=120)
    finally:
        server.shutdown()
    assert_clean_failure(result, 1, "stopped after", "run the same command again to resume")
    kept = (tmp_path / "dl/genres.tar.gz.part").stat().st_size  # whole chunks received before the drop
    assert 0 < kept <= 100_000
