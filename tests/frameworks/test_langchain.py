"""LangChain's langchain-postgres PGVector on vecstore installed as `vector`:
add, similarity search with score, metadata filter, delete; with
create_extension=True (its CREATE EXTENSION IF NOT EXISTS vector) and =False.
Answers are checked against exact cosine distances computed here and, where
pgvector is installed (as extension `pgvector`), against pgvector's."""
import psycopg
import pytest
from langchain_core.embeddings import Embeddings
from langchain_postgres import PGVector

from conftest import (DIM, LIBRARY, TEXTS, VERSION, cosine_order, dsn, embed, extension_row, fresh_db,
                      has_extension, topic)

QUERY = "which fruit is sweet"


class FakeEmbeddings(Embeddings):
    """Deterministic, offline: conftest.embed."""

    def embed_documents(self, texts):
        return [embed(t) for t in texts]

    def embed_query(self, text):
        return embed(text)


def store(db, create_extension):
    from conftest import sa_url
    return PGVector(embeddings=FakeEmbeddings(), connection=sa_url("psycopg", db), collection_name="notes",
                    embedding_length=DIM, use_jsonb=True, create_extension=create_extension)


def scenario(s):
    """add, search, filtered search, delete, search again; returns every answer as [(text, score)]."""
    ids = s.add_texts(TEXTS, metadatas=[{"topic": topic(t), "n": i} for i, t in enumerate(TEXTS)],
                      ids=[f"note-{i}" for i in range(len(TEXTS))])
    assert ids == [f"note-{i}" for i in range(len(TEXTS))]
    got = {}
    got["all"] = [(d.page_content, sc) for d, sc in s.similarity_search_with_score(QUERY, k=5)]
    got["tool"] = [(d.page_content, sc) for d, sc in s.similarity_search_with_score(QUERY, k=4, filter={"topic": {"$eq": "tool"}})]
    got["fruit_n"] = [(d.page_content, d.metadata["n"]) for d, _ in
                      s.similarity_search_with_score(QUERY, k=40, filter={"topic": "fruit", "n": {"$lt": 5}})]
    gone = [TEXTS.index(t) for t, _ in got["all"][:2]]
    s.delete(ids=[f"note-{i}" for i in gone])
    got["after_delete"] = [(d.page_content, sc) for d, sc in s.similarity_search_with_score(QUERY, k=5)]
    got["gone"] = [TEXTS[i] for i in gone]
    return got


def check_exact(got):
    def same(rows, exact):
        assert [t for t, _ in rows] == [t for t, _ in exact], (rows, exact)
        for (_, a), (_, b) in zip(rows, exact):
            assert abs(a - b) < 1e-5, (rows, exact)
    same(got["all"], cosine_order(QUERY, TEXTS, 5))
    same(got["tool"], cosine_order(QUERY, [t for t in TEXTS if topic(t) == "tool"], 4))
    assert sorted(n for _, n in got["fruit_n"]) == [0, 1, 2, 3, 4]
    assert [t for t, _ in got["fruit_n"]] == [t for t, _ in cosine_order(QUERY, TEXTS[:5], 5)]
    same(got["after_delete"], cosine_order(QUERY, [t for t in TEXTS if t not in got["gone"]], 5))
    assert not set(got["gone"]) & {t for t, _ in got["after_delete"]}


def test_create_extension_true(dbname):
    """The framework's own CREATE EXTENSION IF NOT EXISTS vector creates vecstore."""
    assert extension_row(dbname) is None
    s = store(dbname, create_extension=True)
    assert extension_row(dbname) == ("vector", f"vecstore-{VERSION}", LIBRARY)
    got = scenario(s)
    check_exact(got)
    # a second store on the same database runs IF NOT EXISTS against the existing extension
    again = store(dbname, create_extension=True)
    assert [t for t, _ in again.similarity_search_with_score(QUERY, k=5)] and extension_row(dbname)[0] == "vector"
    with psycopg.connect(dsn(dbname)) as c:
        assert c.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                         "WHERE attrelid = 'langchain_pg_embedding'::regclass AND attname = 'embedding'").fetchone()[0] == f"vector({DIM})"


def test_create_extension_false():
    """The extension created beforehand (CREATE EXTENSION vector), create_extension=False."""
    db = fresh_db("fw_langchain_noext", extension="vector")
    got = scenario(store(db, create_extension=False))
    check_exact(got)
    assert extension_row(db)[:2] == ("vector", f"vecstore-{VERSION}")


def test_answers_from_an_hnsw_index():
    """LangChain creates no index; its users add the one langchain-postgres'
    docs show. With sequential scans off the same exact answers come from that
    HNSW index (the other tests here read the table: a broken index would
    pass them)."""
    import time
    db = fresh_db("fw_langchain_hnsw", extension="vector")
    from conftest import sa_url
    s = PGVector(embeddings=FakeEmbeddings(), connection=sa_url("psycopg", db), collection_name="notes",
                 embedding_length=DIM, use_jsonb=True, create_extension=False,
                 engine_args={"connect_args": {"options": "-c enable_seqscan=off -c hnsw.ef_search=100"}})
    with psycopg.connect(dsn(db), autocommit=True) as c:
        c.execute("CREATE INDEX notes_hnsw ON langchain_pg_embedding USING hnsw (embedding vector_cosine_ops)")

    def scans():
        with psycopg.connect(dsn(db)) as c:
            return c.execute("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'notes_hnsw'").fetchone()[0]
    check_exact(scenario(s))
    deadline = time.time() + 10
    while scans() < 4 and time.time() < deadline:
        time.sleep(0.2)  # statistics reach the view within a second of the query
    assert scans() >= 4  # every search of the scenario went through the index


def test_database_with_vecstore_needs_create_extension_false():
    """A database that already has extension vecstore: CREATE EXTENSION vector
    is refused with a hint (the type exists once), create_extension=False works."""
    db = fresh_db("fw_langchain_vecstore", extension="vecstore")
    with pytest.raises(Exception, match='already installed in this database as extension "vecstore"'):
        store(db, create_extension=True)
    check_exact(scenario(store(db, create_extension=False)))


@pytest.mark.skipif(not has_extension("pgvector"), reason="pgvector not installed as extension pgvector")
def test_same_answers_as_pgvector():
    """The same scenario on pgvector (extension `pgvector`) gives the same texts and scores."""
    ours = scenario(store(fresh_db("fw_langchain_ours", extension="vector"), create_extension=False))
    theirs = scenario(store(fresh_db("fw_langchain_pgvector", extension="pgvector"), create_extension=False))
    for key in ours:
        if key in ("all", "tool", "after_delete"):
            assert [t for t, _ in ours[key]] == [t for t, _ in theirs[key]]
            assert all(abs(a - b) < 1e-6 for (_, a), (_, b) in zip(ours[key], theirs[key]))
        else:
            assert ours[key] == theirs[key]
