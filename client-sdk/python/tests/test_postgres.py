"""PostgresSource against a real PostgreSQL: dumps out, restores in one transaction that a bad
body never commits."""

from __future__ import annotations

import pytest

from backup_contract import PostgresSource, make_wsgi_app

from conftest import TOKEN, sha256, wrong

ROWS = "SELECT id, name, amount FROM invoices ORDER BY id"


@pytest.fixture
def billing(postgres, database):
    postgres.psql(
        database,
        "CREATE TABLE invoices (id int PRIMARY KEY, name text NOT NULL, amount numeric(10,2));"
        "INSERT INTO invoices SELECT g, 'customer ' || g, g * 1.25 FROM generate_series(1, 500) g;",
    )
    return database


@pytest.fixture
def client(serve, postgres, billing):
    return serve(make_wsgi_app("billing", PostgresSource(billing, env=postgres.env), token=TOKEN))


def test_capabilities_offer_a_dump_and_the_schema_with_the_database_size(client):
    status, caps = client.capabilities()
    assert status == 200 and caps["restore"] is True
    assert caps["types"] == [
        {"name": "full", "media_type": "application/octet-stream", "extension": "dump", "verify": True,
         "compressed": True},
        {"name": "schema", "media_type": "application/sql", "extension": "sql"},
    ]
    assert caps["health"]["size_bytes"] > 1_000_000
    assert caps["health"]["details"]["tables"] == "1"


def test_a_full_dump_round_trips_and_a_mismatch_rolls_back(client, postgres, billing):
    expected = postgres.psql(billing, ROWS)
    dump = client.export_bytes("full")
    assert dump.startswith(b"PGDMP")
    postgres.psql(billing, "DELETE FROM invoices WHERE id > 10; CREATE TABLE added_later (x int);")
    after_change = postgres.psql(billing, ROWS)

    status, answer = client.import_("full", wrong(sha256(dump)), dump)
    assert (status, answer["error"]) == (422, "checksum_mismatch")
    assert postgres.psql(billing, ROWS) == after_change, "a mismatched body changed the database"

    status, answer = client.import_("full", sha256(dump), dump)
    assert (status, answer) == (200, {"restored": True, "bytes": len(dump)})
    assert postgres.psql(billing, ROWS) == expected


def test_a_dump_that_fails_part_way_leaves_the_database_as_it_was(client, postgres, billing):
    dump = client.export_bytes("full")
    postgres.psql(billing, "DELETE FROM invoices WHERE id > 10")
    before = postgres.psql(billing, ROWS)
    truncated = dump[: len(dump) * 2 // 3]
    status, answer = client.import_("full", sha256(truncated), truncated)
    assert (status, answer["error"]) == (500, "import_failed"), answer
    assert "pg_restore" in answer["message"]
    assert postgres.psql(billing, ROWS) == before


def test_the_schema_export_is_sql_without_rows_and_restores_with_psql(serve, client, postgres, billing, database):
    sql = client.export_bytes("schema").decode()
    assert "CREATE TABLE public.invoices" in sql and "customer 1" not in sql
    target = postgres.create_database("pysdk_schema")
    try:
        into = serve(make_wsgi_app("t", PostgresSource(billing, restore_database=target, env=postgres.env),
                                   token=TOKEN))
        bad = sql + "\nTHIS IS NOT SQL;\n"
        status, answer = into.import_("schema", sha256(bad.encode()), bad.encode())
        assert (status, answer["error"]) == (500, "import_failed")
        assert postgres.psql(target, "SELECT count(*) FROM pg_tables WHERE tablename = 'invoices'").strip() == "0"
        status, _ = into.import_("schema", sha256(sql.encode()), sql.encode())
        assert status == 200
        assert postgres.psql(target, "SELECT count(*) FROM invoices").strip() == "0"
    finally:
        postgres.drop_database(target)


def test_verify_reads_the_whole_dump(client):
    dump = client.export_bytes("full")
    status, report = client.verify("full", sha256(dump), dump)
    assert status == 200 and report["ok"] is True and report["bytes"] == len(dump), report
    truncated = dump[:-200]
    status, report = client.verify("full", sha256(truncated), truncated)
    assert status == 200 and report["ok"] is False, report
    garbage = bytes((i * 2654435761 >> 13) & 0xFF for i in range(256 * 1024))
    status, report = client.verify("full", sha256(garbage), garbage)
    assert status == 200 and report["ok"] is False, report
    status, answer = client.verify("schema", sha256(b"x"), b"x")
    assert (status, answer["error"]) == (404, "restore_unsupported")


def test_a_dump_of_a_missing_database_fails_with_pg_dumps_words(serve, postgres):
    client = serve(make_wsgi_app("gone", PostgresSource("no_such_database_here", env=postgres.env), token=TOKEN))
    status, body = client.json("POST", "/backup/export", b"", client.headers())
    assert (status, body["error"]) == (500, "export_failed")
    assert "no_such_database_here" in body["message"]
    assert "health" not in client.capabilities()[1]
