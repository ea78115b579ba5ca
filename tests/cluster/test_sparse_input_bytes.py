"""Text input of sparsevec, vector and halfvec over random byte strings in a
LATIN1 database (where every byte is a character, so any byte string
reaches the input functions): each is a value or an ERROR of a data class
(22xxx, 54000 for limits), never a crash; a syntax error echoes the input
byte for byte, as pgvector does; and what parses prints back to a value
that parses to the same."""

import random

import psycopg
import pytest

ALPHABET = b"{}[]:/,0123456789.eE+-xXpP infINFnaN\t"


def random_literal(rng):
    n = rng.randrange(0, 24)
    out = bytearray()
    for _ in range(n):
        out.append(rng.randrange(1, 256) if rng.random() < 0.15 else rng.choice(ALPHABET))
    return bytes(out)


@pytest.mark.parametrize("typ", ["sparsevec", "vector", "halfvec"])
def test_random_bytes_never_crash_and_echo_raw(cluster, typ):
    db = f"fuzz_{typ}"
    cluster.sql(f"CREATE DATABASE {db} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    cluster.sql("CREATE EXTENSION vecstore", db)
    seed = {"sparsevec": 1, "vector": 2, "halfvec": 3}[typ]
    rng = random.Random(seed)
    accepted = syntax = 0
    with cluster.connect(db) as conn:
        conn.execute("SET client_encoding = 'LATIN1'")
        for _ in range(3000):
            raw = random_literal(rng)
            if rng.random() < 0.5:
                raw = (b"{" + raw + b"}/9") if typ == "sparsevec" else (b"[" + raw + b"]")
            lit = raw.decode("latin1")
            try:
                printed = conn.execute("SELECT %s::text::" + typ + "::text", (lit,)).fetchone()[0]
            except psycopg.errors.DataError as e:
                assert e.sqlstate.startswith("22"), (seed, lit, e.sqlstate)
                if e.sqlstate == "22P02":
                    syntax += 1
                    assert e.diag.message_primary == f'invalid input syntax for type {typ}: "{lit}"', (seed, lit)
                continue
            except psycopg.errors.ProgramLimitExceeded:
                continue
            accepted += 1
            again = conn.execute("SELECT %s::text::" + typ + "::text", (printed,)).fetchone()[0]
            assert again == printed, (seed, lit, printed, again)
    print(f"{typ}: {accepted} accepted, {syntax} syntax errors of 3000")
    assert accepted >= 10 and syntax > 500, (accepted, syntax)
    assert cluster.scalar("SELECT 1") == 1
    assert not [l for l in cluster.log().splitlines() if "PANIC" in l or "TRAP" in l or "terminated by signal" in l]
