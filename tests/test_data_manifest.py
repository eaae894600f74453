"""The manifest of the real data (camlib.data.manifest), its command line, and the Data page made from it."""

from __future__ import annotations

import hashlib
import re

import pytest
import yaml

import camlib.book.params
from camlib.book.datapage import chapters_reading, data_sources_markdown
from camlib.book.provenance import provenance
from camlib.data import manifest
from camlib.data.__main__ import main
from camlib.data.locate import data_roots


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def made(tmp_path, monkeypatch):
    """A manifest of one made dataset `toy` (folder `toy-data`) and a data root holding its copy."""
    sources = tmp_path / "sources.yml"
    toy = {"folder": "toy-data", "title": "a toy", "official": "nowhere", "licence": "CC0", "transform": ["none"]}
    toy["sources"] = [{"what": "all", "repository": "a/b", "commit": "abc1234", "path": ""}]
    sources.write_text(yaml.safe_dump({"toy": toy}))
    monkeypatch.setattr(manifest, "SOURCES_FILE", sources)
    monkeypatch.setattr(manifest, "MANIFEST_DIR", tmp_path / "manifest")
    manifest._sources.cache_clear()
    manifest._entries.cache_clear()
    root = tmp_path / "root"
    (root / "toy-data" / "images").mkdir(parents=True)
    (root / "toy-data" / "labels.txt").write_bytes(b"1 cat\n")
    (root / "toy-data" / "images" / "a.jpg").write_bytes(b"pixels of a")
    manifest.write_manifest("toy", root)
    yield root
    manifest._sources.cache_clear()
    manifest._entries.cache_clear()


def test_written_manifest_lists_every_file_with_size_and_sha256(made):
    assert manifest.datasets() == ["toy"]
    assert manifest.entries("toy") == [
        manifest.Entry("images/a.jpg", 11, _sha(b"pixels of a")),  # images included, sorted by path
        manifest.Entry("labels.txt", 6, _sha(b"1 cat\n")),
    ]
    # the digest is sha256sum's listing hashed: `sha256sum images/a.jpg labels.txt | sha256sum`
    listing = f"{_sha(b'pixels of a')}  images/a.jpg\n{_sha(b'1 cat' + bytes([10]))}  labels.txt\n"
    assert manifest.digest("toy") == _sha(listing.encode())


def test_verify_names_every_missing_different_and_extra_file(made, capsys):
    report = manifest.verify("toy", made)
    assert report.ok and report.lines() == ["toy: ok (2 files, every size and sha256 as listed)"]
    assert main(["verify", "--data-root", str(made)]) == 0
    (made / "toy-data" / "labels.txt").write_bytes(b"1 dog\n")  # same size, other bytes
    (made / "toy-data" / "images" / "a.jpg").unlink()
    (made / "toy-data" / "images" / "b.jpg").write_bytes(b"new")
    report = manifest.verify("toy", made)
    assert (report.missing, report.different, report.extra) == (["images/a.jpg"], ["labels.txt"], ["images/b.jpg"])
    assert not report.ok
    capsys.readouterr()
    assert main(["verify", "toy", "--data-root", str(made)]) == 1
    out = capsys.readouterr().out
    assert "toy: DIFFERS from the manifest (1 missing, 1 different, 1 not listed, of 2 listed)" in out
    assert "  missing: images/a.jpg" in out and "  different: labels.txt" in out and "  not listed: images/b.jpg" in out
    assert out.rstrip().endswith("0 of 1 datasets as the manifest lists them; not: toy")


def test_verify_reports_an_absent_dataset_and_rejects_unknown_names(made, tmp_path, capsys):
    report = manifest.verify("toy", tmp_path / "empty")
    assert report.absent and not report.ok and "ABSENT" in report.lines()[0]
    with pytest.raises(ValueError, match=r"`dataset` must be one of toy, but got 'birds'"):
        manifest.verify("birds", made)
    with pytest.raises(SystemExit):
        main(["verify", "birds"])
    assert "unknown dataset(s) birds; the manifest has toy" in capsys.readouterr().err


def test_a_malformed_manifest_line_is_named(made):
    path = manifest.MANIFEST_DIR / "toy.tsv"
    path.write_text(path.read_text() + "c.jpg\tten\t" + "0" * 64 + "\n")
    manifest._entries.cache_clear()
    with pytest.raises(ValueError, match=r"toy.tsv line 4 must read `path<TAB>size<TAB>sha256`"):
        manifest.entries("toy")


def test_provenance_says_whether_the_dataset_read_is_the_manifests(made, monkeypatch, tmp_path):
    spec = {"profile": camlib.book.params.Str(), "data_root": camlib.book.params.DataRoot()}
    spec["cub_dir"] = camlib.book.params.DataPath()
    given = {"profile": "smoke", "data_root": str(made), "cub_dir": "toy-data"}
    monkeypatch.setenv("CAMLIB_CACHE", str(tmp_path / "cache"))
    row = provenance(camlib.book.params.check_params(given, spec), files={"all": "toy-data/images"}).data
    assert [r["manifest"] for r in row] == ["toy: as the manifest lists it (2 files, images included)"] * 2
    (made / "toy-data" / "images" / "a.jpg").write_bytes(b"pixels of AA")  # an image changed
    row = provenance(camlib.book.params.check_params(given, spec)).data
    assert row[0]["manifest"].startswith("toy: differs from the manifest (`python -m camlib.data verify toy`")


# ---------------------------------------------------------------------------------------------------- the study's


def test_sources_name_a_public_copy_at_a_commit_and_every_change():
    for name in manifest.datasets():
        info = manifest.source(name)
        assert {"title", "official", "sources", "licence", "transform"} <= set(info), name
        for s in info["sources"]:
            assert isinstance(s["what"], str) and re.fullmatch(r"[\w.-]+/[\w.-]+", s["repository"]), (name, s)
            assert isinstance(s["commit"], str) and re.fullmatch(r"[0-9a-f]{7,40}", s["commit"]), (name, s)
        assert info["transform"] and all(isinstance(t, str) for t in info["transform"]), name
        files = manifest.entries(name)
        assert files and [e.path for e in files] == sorted({e.path for e in files}), name  # sorted, unique
        assert all(e.size > 0 and re.fullmatch(r"[0-9a-f]{64}", e.sha256) for e in files), name


def test_data_page_counts_come_from_the_manifest_and_chapters_from_their_parameters():
    readers = chapters_reading()
    assert "00" in readers["cam-samples"] and "05" in readers["icdar2015"] and "03" in readers["cub-200-2011-50cls"]
    assert all(readers[name] for name in manifest.datasets())  # no dataset listed that no chapter reads
    text = data_sources_markdown()
    for name in manifest.datasets():
        files = manifest.entries(name)
        assert f"| `{manifest.dataset_folder(name)}/` | {manifest.source(name)['title']} | {len(files):,} |" in text
        assert f"`{manifest.digest(name)}`" in text
    assert "../shared" not in text


def _study_data() -> bool:
    return any((root / "imagenet-val-1300").is_dir() for root in data_roots())


@pytest.mark.skipif(not _study_data(), reason="real data absent: link data to the study's data or set $CAMLIB_DATA")
def test_the_studys_data_verify_against_the_manifest():
    reports = manifest.verify_all()
    assert [r.lines() for r in reports if not r.ok] == []
