"""Result files at /files/<owner>/<alias> (in-process Datasette): public files to anyone, with
Range, HEAD and ETag; private ones to curators and signed links only, answering anyone else
exactly as for a missing file; never a path outside the results dir. And /public.db."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3

import pytest
import yaml
from privacy_data import PRIVATE_STUDY, build_catalogue

from mgnify_db.catalogue.publish import publish
from mgnify_db.cli import METADATA
from mgnify_db.web.files import link_status, parse_range, sign_file_url

TOKEN, SECRET = "curator-token-for-tests-0123456789", "files-secret-for-tests"
CURATOR = {"Authorization": f"Bearer {TOKEN}"}


class Site:
    """A Datasette over the catalogue and its public.db, driven on one event loop."""

    def __init__(self, tmp_path, store: str = "sqlite", request=None):
        from datasette.app import Datasette
        from datasette.plugins import pm

        from mgnify_db.web import plugin

        if not pm.is_registered(plugin):  # the entry point registers it (test_datasette.py)
            pm.register(plugin)
        self.cat = build_catalogue(tmp_path, store=store, request=request)
        self.public = self.cat.results / "public.db"
        publish(self.cat.db, self.public)
        metadata = yaml.safe_load(METADATA.read_text())
        metadata["plugins"]["mgnify-db"] = {"results_dir": str(self.cat.results)}
        self.ds = Datasette([str(self.cat.db), str(self.public)], metadata=metadata)
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.ds.invoke_startup())

    def get(self, path: str, method: str = "GET", **headers):
        headers = {k.replace("_", "-"): v for k, v in headers.items()}
        return self.loop.run_until_complete(self.ds.client.request(method, path, headers=headers))

    def close(self):
        self.loop.close()


@pytest.fixture
def site(tmp_path, monkeypatch, store_kind, request):
    monkeypatch.setenv("MGNIFY_CURATOR_TOKEN", f"someone-else,{TOKEN}")
    monkeypatch.setenv("MGNIFY_FILES_SECRET", SECRET)
    s = Site(tmp_path, store_kind, request)
    yield s
    s.close()


def test_public_files_served_to_anyone(site):
    for f, ctype in (
        (site.cat.public_file, "application/gzip"),
        (site.cat.assembly_file, "text/x-fasta"),
        (site.cat.study_file, "text/tab-separated-values; charset=utf-8"),
    ):
        r = site.get(f.url)
        assert r.status_code == 200, (f.url, r.text)
        assert r.content == f.content
        assert int(r.headers["content-length"]) == len(f.content)
        assert hashlib.md5(r.content).hexdigest() == f.md5
        assert r.headers["content-type"] == ctype
        assert r.headers["accept-ranges"] == "bytes"
        assert f.alias in r.headers["content-disposition"]
        assert r.headers["x-content-type-options"] == "nosniff"
    # the row's size and md5 are the served file's; the md5 is the ETag (absent without one)
    f = site.cat.public_file
    size, md5 = (
        sqlite3.connect(site.public)
        .execute("select size_bytes, md5 from downloads where url = ?", [f.url])
        .fetchone()
    )
    r = site.get(f.url)
    assert (size, md5) == (len(r.content), hashlib.md5(r.content).hexdigest())
    assert r.headers["etag"] == f'"{md5}"'
    assert "etag" not in site.get(site.cat.study_file.url).headers
    assert site.get(f.url, if_none_match=f'"{md5}"').status_code == 304


def test_range_and_head(site):
    f = site.cat.public_file
    size = len(f.content)
    for header, first, last in (
        ("bytes=0-9", 0, 9),
        ("bytes=10-", 10, size - 1),
        ("bytes=-5", size - 5, size - 1),
        (f"bytes=100-{size + 1000}", 100, size - 1),
        (f"bytes=-{size + 7}", 0, size - 1),
        (f"bytes={size - 1}-{size - 1}", size - 1, size - 1),
    ):
        r = site.get(f.url, range=header)
        assert r.status_code == 206, header
        assert r.content == f.content[first : last + 1], header
        assert r.headers["content-range"] == f"bytes {first}-{last}/{size}"
        assert int(r.headers["content-length"]) == last - first + 1
    for header in (f"bytes={size}-", f"bytes={size + 5}-{size + 9}", "bytes=-0"):
        r = site.get(f.url, range=header)
        assert r.status_code == 416, header
        assert r.headers["content-range"] == f"bytes */{size}"
    for ignored in ("bytes=5-2", "bytes=0-1,5-6", "lines=1-2", "bytes=x-y", "bytes=-"):
        r = site.get(f.url, range=ignored)
        assert (r.status_code, r.content) == (200, f.content), ignored
    head = site.get(f.url, method="HEAD")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == size
    head = site.get(f.url, method="HEAD", range="bytes=0-9")
    assert (head.status_code, head.content, head.headers["content-length"]) == (206, b"", "10")


def test_private_file_answers_anonymous_users_as_missing(site):
    f = site.cat.private_file
    missing = site.get("/files/MGYA00000888/nothing.fa.gz")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        for query in ("", "?sign=1", "?expires=99999999999", "?token="):
            r = site.get(f.url + query, **headers)
            assert r.status_code == 404, (headers, query)
            assert r.content == missing.content
            assert r.headers["content-type"] == missing.headers["content-type"]
            assert b"QUOKKA" not in r.content


def test_private_file_served_to_a_curator(site):
    f = site.cat.private_file
    r = site.get(f.url, **CURATOR)
    assert r.status_code == 200 and r.content == f.content
    assert r.headers["etag"] == f'"{f.md5}"'
    assert "no-store" in r.headers["cache-control"]
    r = site.get(f.url, range="bytes=0-5", **CURATOR)
    assert (r.status_code, r.content) == (206, f.content[:6])
    assert site.get("/files/MGYA00000888/nothing.fa.gz", **CURATOR).status_code == 404
    assert site.get("/-/actor.json", **CURATOR).json() == {"actor": {"id": "curator"}}
    assert site.get("/-/actor.json", Authorization="Bearer wrong").json() == {"actor": None}


def test_signed_links(site, monkeypatch):
    f = site.cat.private_file
    r = site.get(f.url + "?sign=1", **CURATOR)
    assert r.status_code == 200, r.text
    url = r.json()["url"]
    assert url.startswith(f.url + "?expires=") and r.json()["expires_in"] == 3600
    r = site.get(url)
    assert (r.status_code, r.content) == (200, f.content)
    assert "no-store" in r.headers["cache-control"]
    assert site.get(url, range="bytes=-3").content == f.content[-3:]

    expired = sign_file_url(f.url, SECRET, 60, now=1_000_000)
    assert site.get(expired).status_code == 410
    forged = sign_file_url(f.url, "another secret", 3600)
    assert site.get(forged).status_code == 403
    assert site.get(f.url + "?expires=%C2%B2&token=%C3%A9").status_code == 403
    other = sign_file_url(site.cat.public_file.url, SECRET, 3600)  # a link to another file
    assert site.get(f.url + other[other.index("?") :]).status_code == 403
    # a bad token is 403 whether or not the file exists: it reveals nothing
    nothing = "/files/MGYA00000888/nothing.fa.gz"
    assert site.get(forged.replace(f.url, nothing)).status_code == 403
    assert site.get(sign_file_url(nothing, SECRET, 3600)).status_code == 404
    # a public file is served whatever the link says
    assert site.get(site.cat.public_file.url + "?expires=1&token=00").status_code == 200

    monkeypatch.delenv("MGNIFY_FILES_SECRET")  # signed links disabled
    assert site.get(url).status_code == 404
    r = site.get(f.url + "?sign=1", **CURATOR)
    assert r.status_code == 400 and "MGNIFY_FILES_SECRET" in r.json()["error"]


def test_paths_outside_the_results_dir_are_refused(site):
    outside = site.cat.results.parent / "outside.txt"
    assert outside.read_bytes() == b"OUTSIDE"
    link = site.cat.results / "studies" / "link.txt"
    link.symlink_to(outside)
    with sqlite3.connect(site.public) as conn:  # (a row public.db would never hold)
        conn.execute(
            "insert into downloads (id, study, alias, path, file_type, is_private, is_suppressed)"
            " values ('MGYS00000001/link.txt', 'MGYS00000001', 'link.txt', 'studies/link.txt',"
            " 'other', 0, 0)"
        )
    conn.close()
    for path in (
        site.cat.escaping_file.url,  # its row's path is ../outside.txt
        "/files/MGYS00000001/link.txt",  # a symlink out of the results dir
        "/files/MGYA00000001/..%2F..%2Foutside.txt",
        "/files/..%2F..%2F/outside.txt",
        "/files/MGYA00000001/%2E%2E",
        "/files/../outside.txt",
    ):
        for headers in ({}, CURATOR):
            r = site.get(path, **headers)
            assert r.status_code == 404, path
            assert b"OUTSIDE" not in r.content


def test_public_db_download_follows_a_republish(site):
    r = site.get("/public.db")
    assert r.status_code == 200 and r.content == site.public.read_bytes()
    assert r.headers["content-type"] == "application/vnd.sqlite3"
    assert site.get("/public.db", range="bytes=0-15").content == b"SQLite format 3\x00"
    assert site.get("/catalogue.db").status_code == 403
    assert site.get("/catalogue.db", **CURATOR).status_code == 403  # mutable: no download
    # the private study goes public: after a re-publish, its file and rows are everyone's
    with sqlite3.connect(site.cat.db) as conn:
        for table in ("studies", "samples", "study_samples", "runs", "assemblies"):
            conn.execute(f"update {table} set is_private = 0")
        conn.execute("update analyses set is_private = 0")
        conn.execute("update downloads set is_private = 0")
    conn.close()
    inode = os.stat(site.public).st_ino
    publish(site.cat.db, site.public)
    assert os.stat(site.public).st_ino != inode
    r = site.get(site.cat.private_file.url)
    assert (r.status_code, r.content) == (200, site.cat.private_file.content)
    rows = site.get("/public/studies.json?_shape=array").json()
    assert PRIVATE_STUDY in {row["accession"] for row in rows}
    assert site.get("/public.db").content == site.public.read_bytes()


def test_sign_file_url_and_link_status():
    url = sign_file_url("/files/MGYA1/a b.tsv", "s", 60, now=1000)
    assert url.startswith("/files/MGYA1/a b.tsv?expires=1060&token=")
    token = url.rsplit("=", 1)[1]
    import hashlib as h
    import hmac

    assert token == hmac.new(b"s", b"MGYA1\0a b.tsv\x001060", h.sha256).hexdigest()
    assert link_status("MGYA1", "a b.tsv", "1060", token, "s", now=1000) == "valid"
    assert link_status("MGYA1", "a b.tsv", "1060", token, "s", now=2000) == "expired"
    assert link_status("MGYA1", "a b.tsv", "1061", token, "s", now=1000) == "bad"
    assert link_status("MGYA2", "a b.tsv", "1060", token, "s", now=1000) == "bad"
    assert link_status("MGYA1", "a b.tsv", None, token, "s", now=1000) == "bad"
    assert link_status("MGYA1", "a b.tsv", "²", token, "s", now=1000) == "bad"
    assert link_status("MGYA1", "a b.tsv", "1060", "é" + token[1:], "s", now=1000) == "bad"
    absolute = sign_file_url("https://files.example.org/files/MGYA1/x.fa?v=1", "s", 60, now=0)
    assert absolute.startswith("https://files.example.org/files/MGYA1/x.fa?v=1&expires=60&token=")
    with pytest.raises(ValueError):
        sign_file_url("/files/MGYA1/x", "", 60)


def test_parse_range():
    assert parse_range(None, 10) is None
    assert parse_range("bytes=2-4", 10) == (2, 4)
    assert parse_range("bytes=2-", 10) == (2, 9)
    assert parse_range("bytes=-3", 10) == (7, 9)
    assert parse_range("bytes=-3", 0) is False
    assert parse_range("bytes=0-", 0) is False
    assert parse_range("bytes=4-2", 10) is None
    assert parse_range("bytes=1-2,4-5", 10) is None


def test_serve_publishes_a_stale_public_db_and_serves_both(tmp_path, monkeypatch):
    import shutil

    from click.testing import CliRunner

    from mgnify_db.cli import cli

    calls = []
    monkeypatch.setattr("mgnify_db.cli.os.execvp", lambda *args: calls.append(args[1]))
    for name in ("MGNIFY_RESULTS_DIR", "MGNIFY_FILES_LINK_LIFETIME", "MGNIFY_CURATOR_TOKEN"):
        monkeypatch.setenv(name, "")  # restored (unset) after the test; serve sets the first two
    monkeypatch.chdir(tmp_path)  # no config/config.yaml: the defaults
    cat = build_catalogue(tmp_path)
    public = cat.results / "public.db"

    def serve(db=cat.db):
        res = CliRunner().invoke(cli, ["serve", str(db), "--port", "9"])
        return res

    res = serve()
    assert res.exit_code == 0, res.output
    assert "published" in res.output and "MGNIFY_CURATOR_TOKEN is not set" in res.output
    args = calls.pop()
    assert args[args.index("serve") + 1 : args.index("serve") + 3] == [str(cat.db), str(public)]
    assert os.environ["MGNIFY_RESULTS_DIR"] == str(cat.results.resolve())
    assert os.environ["MGNIFY_FILES_LINK_LIFETIME"] == "3600"
    inode = public.stat().st_ino
    assert serve().exit_code == 0 and public.stat().st_ino == inode  # up to date: kept
    with sqlite3.connect(cat.db) as conn:
        conn.execute("update studies set title = 'Open ocean plankton, again'")
    conn.close()
    res = serve()
    assert res.exit_code == 0 and public.stat().st_ino != inode  # older than the catalogue
    assert len(calls) == 2
    # Datasette names a database after its file; the catalogue's rule is on the name
    other = tmp_path / "mine.db"
    shutil.copy(cat.db, other)
    res = serve(other)
    assert res.exit_code == 1
    assert (
        res.output == f"error: {other}: served databases are named after their files: "
        "this one must be catalogue.db\n"
    )


def test_serve_refuses_an_open_catalogue_or_a_guessable_token(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from mgnify_db.cli import cli

    monkeypatch.setattr("mgnify_db.cli.os.execvp", lambda *args: None)
    for name in ("MGNIFY_RESULTS_DIR", "MGNIFY_FILES_LINK_LIFETIME"):
        monkeypatch.setenv(name, "")
    monkeypatch.chdir(tmp_path)
    cat = build_catalogue(tmp_path)
    monkeypatch.setenv("MGNIFY_CURATOR_TOKEN", f"{TOKEN},short")
    res = CliRunner().invoke(cli, ["serve", str(cat.db)])
    assert res.exit_code == 1
    assert res.output == "error: MGNIFY_CURATOR_TOKEN: 1 token(s) shorter than 16 characters\n"
    monkeypatch.setenv("MGNIFY_CURATOR_TOKEN", TOKEN)
    open_metadata = tmp_path / "open.yaml"
    open_metadata.write_text("title: no gate\ndatabases:\n  catalogue: {}\n")
    res = CliRunner().invoke(cli, ["serve", str(cat.db), "--metadata", str(open_metadata)])
    assert res.exit_code == 1 and "catalogue: allow must be {id: curator}" in res.output
    assert CliRunner().invoke(cli, ["serve", str(cat.db)]).exit_code == 0


def test_signed_links_cannot_shift_digits_between_alias_and_expiry():
    from mgnify_db.web.files import link_status, sign_file_url

    url = sign_file_url("/files/MGYA1/run1", "s3cret", 3600, now=1_000_000_000)
    expires = url.split("expires=")[1].split("&")[0]
    token = url.split("token=")[1]
    assert link_status("MGYA1", "run1", expires, token, "s3cret", now=1_000_000_000) == "valid"
    # "run1" + "1000003600" == "run" + "11000003600": once the same message, now not
    assert link_status("MGYA1", "run", "1" + expires, token, "s3cret", now=0) == "bad"
