"""Fetch MovieLens 100K from GroupLens, check it and unpack it (``recstream data fetch-movielens``).

The data set's terms forbid redistribution, so it is not shipped: a user downloads it once where a
network exists. The job never downloads anything; it reads the unpacked folder
(``source.movielens.path``).

What is checked are the two files recstream reads, ``u.data`` and ``u.item``, against pinned
SHA-256 sums of the 1998 ML-100K release; the archive itself is only required to be a zip holding
them in one folder, with no member outside it and a bounded unpacked size.
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

ML100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ML100K_SHA256 = {
    "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
    "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
}
# ml-100k.zip is about 5 MB and unpacks to about 16 MB; far more is not this data set
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
MAX_UNPACKED_BYTES = 256 * 1024 * 1024


class DownloadError(RuntimeError):
    """The archive could not be fetched, is not an ML-100K zip, or its files do not match."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(folder: Path, checksums: dict[str, str] = ML100K_SHA256) -> None:
    """Raise :class:`DownloadError` unless every file named in ``checksums`` is in ``folder`` with that sum."""
    for name, expected in checksums.items():
        path = folder / name
        if not path.is_file():
            raise DownloadError(f"{name} is missing from the archive (expected the ML-100K layout)")
        actual = sha256_of(path)
        if actual != expected:
            raise DownloadError(f"{name}: SHA-256 {actual} does not match the pinned {expected} "
                                "(a different or damaged copy; nothing was installed)")


def _download(url: str, dest: Path, timeout_s: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp, dest.open("wb") as out:
            total = 0
            for block in iter(lambda: resp.read(1 << 20), b""):
                total += len(block)
                if total > MAX_DOWNLOAD_BYTES:
                    raise DownloadError(f"{url} sent more than {MAX_DOWNLOAD_BYTES >> 20} MiB: not ML-100K")
                out.write(block)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DownloadError(f"cannot download {url}: {reason}") from None


def _unpack(archive: Path, into: Path) -> None:
    """Unpack the files of the archive's one folder (or of its top level) flat into ``into``."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DownloadError(f"the download is not a zip archive ({exc})") from None
    with zf:
        files = [m for m in zf.infolist() if not m.is_dir()]
        for m in files:
            parts = PurePosixPath(m.filename).parts
            if m.filename.startswith(("/", "\\")) or ".." in parts or len(parts) > 2 or "\\" in m.filename:
                raise DownloadError(f"unexpected member {m.filename!r} in the archive: not ML-100K")
        if sum(m.file_size for m in files) > MAX_UNPACKED_BYTES:
            raise DownloadError(f"the archive unpacks to more than {MAX_UNPACKED_BYTES >> 20} MiB: not ML-100K")
        for m in files:
            target = into / PurePosixPath(m.filename).name
            with zf.open(m) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)


def fetch_movielens(dest: Path, url: str = ML100K_URL, checksums: dict[str, str] = ML100K_SHA256,
                    force: bool = False, timeout_s: float = 60.0) -> tuple[Path, bool]:
    """Download ``url``, unpack it and verify it into ``dest``; returns ``(dest, downloaded)``.

    A ``dest`` that already holds matching files is kept (``downloaded`` False) unless ``force``.
    Nothing is written to ``dest`` unless the checksums match."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise DownloadError(f"{dest} exists and is not a folder")
    if dest.exists() and not force:
        try:
            verify(dest, checksums)
            return dest, False
        except DownloadError:
            if any(dest.iterdir()):
                raise DownloadError(f"{dest} exists and does not hold a matching ML-100K copy "
                                    "(use --force to replace it)") from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".ml-100k-", dir=dest.parent) as tmp:
        archive, unpacked = Path(tmp) / "ml-100k.zip", Path(tmp) / "ml-100k"
        unpacked.mkdir()
        _download(url, archive, timeout_s)
        _unpack(archive, unpacked)
        verify(unpacked, checksums)
        if dest.exists():
            shutil.rmtree(dest)
        unpacked.rename(dest)
    return dest, True
