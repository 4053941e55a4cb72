"""DirectorySource through the package's own server: a real tar.gz out, and back in."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from backup_contract import DirectorySource, make_wsgi_app

from conftest import TOKEN, assert_an_export_right_after_a_dropped_one_is_served, sha256, wrong


@pytest.fixture
def folder(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "notes.txt").write_text("remember the milk\n")
    (data / "sub" / "big.bin").write_bytes(os.urandom(300_000))
    return data


@pytest.fixture
def client(serve, folder):
    return serve(make_wsgi_app("files", DirectorySource(folder), token=TOKEN))


def names_in(archive: bytes) -> set:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {m.name for m in tar.getmembers()}


def leftovers(folder) -> list:
    """Staging or swapped-out folders left beside ``folder``."""
    return [p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}.")]


def test_capabilities_describe_the_folder(client):
    status, caps = client.capabilities()
    assert status == 200
    assert caps["contract"] == "v1" and caps["app"] == "files" and caps["restore"] is True
    assert caps["types"] == [{"name": "full", "media_type": "application/gzip", "extension": "tar.gz", "verify": True}]
    assert caps["health"]["size_bytes"] == 300_000 + len("remember the milk\n")
    assert caps["health"]["details"] == {"files": "2"}


def test_the_export_is_a_chunked_tar_gz_of_the_folder(client):
    resp = client.export()
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "application/gzip"
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert names_in(resp.read()) >= {"./notes.txt", "./sub/big.bin"}


def test_an_import_restores_the_folder_as_it_was(client, folder):
    archive = client.export_bytes("full")
    (folder / "notes.txt").write_text("changed\n")
    (folder / "new.txt").write_text("added after the backup\n")
    status, answer = client.import_("full", sha256(archive), archive)
    assert (status, answer) == (200, {"restored": True, "bytes": len(archive)})
    assert (folder / "notes.txt").read_text() == "remember the milk\n"
    assert not (folder / "new.txt").exists()
    assert leftovers(folder) == []


def test_a_checksum_mismatch_leaves_the_folder_untouched(client, folder):
    archive = client.export_bytes()
    (folder / "notes.txt").write_text("changed\n")
    status, answer = client.import_("full", wrong(sha256(archive)), archive)
    assert status == 422 and answer["error"] == "checksum_mismatch", answer
    assert "nothing was restored" in answer["message"]
    assert (folder / "notes.txt").read_text() == "changed\n"
    assert leftovers(folder) == []


def test_a_corrupt_archive_with_its_true_checksum_fails_and_leaves_the_folder_untouched(client, folder):
    archive = client.export_bytes()
    corrupt = archive[: len(archive) // 2]
    (folder / "notes.txt").write_text("changed\n")
    status, answer = client.import_("full", sha256(corrupt), corrupt)
    assert status == 500 and answer["error"] == "import_failed", answer
    assert "tar" in answer["message"]
    assert (folder / "notes.txt").read_text() == "changed\n"
    assert leftovers(folder) == []


def test_an_import_can_restore_elsewhere(serve, folder, tmp_path):
    elsewhere = tmp_path / "restored"
    client = serve(make_wsgi_app("files", DirectorySource(folder, restore_into=elsewhere), token=TOKEN))
    archive = client.export_bytes()
    status, _ = client.import_("full", sha256(archive), archive)
    assert status == 200
    assert (elsewhere / "notes.txt").read_text() == "remember the milk\n"
    assert (elsewhere / "sub" / "big.bin").read_bytes() == (folder / "sub" / "big.bin").read_bytes()


def test_verify_passes_an_export_and_fails_garbage_changing_nothing(client, folder):
    archive = client.export_bytes()
    (folder / "notes.txt").write_text("changed\n")
    status, report = client.verify("full", sha256(archive), archive)
    assert status == 200 and report["ok"] is True and report["bytes"] == len(archive), report
    garbage = bytes((i * 2654435761 >> 13) & 0xFF for i in range(256 * 1024))
    status, report = client.verify("full", sha256(garbage), garbage)
    assert status == 200 and report["ok"] is False, report
    assert report["checks"][0]["name"] == "the archive reads to its end"
    truncated = archive[:-20]
    status, report = client.verify("full", sha256(truncated), truncated)
    assert status == 200 and report["ok"] is False, report
    status, answer = client.verify("full", wrong(sha256(archive)), archive)
    assert status == 422 and answer["error"] == "checksum_mismatch"
    assert (folder / "notes.txt").read_text() == "changed\n"


def test_an_export_right_after_a_dropped_one_is_served(client):
    assert_an_export_right_after_a_dropped_one_is_served(client)
