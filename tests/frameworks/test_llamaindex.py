"""LlamaIndex's llama-index-vector-stores-postgres PGVectorStore on vecstore
installed as `vector`: its setup (CREATE EXTENSION IF NOT EXISTS vector, the
table, the HNSW index from hnsw_kwargs), add, query (sync over psycopg2 and
async over asyncpg) answered by the HNSW index, metadata filter, delete by
document and by node. Answers are checked against exact cosine distances."""
import asyncio
import time

import psycopg
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (FilterOperator, MetadataFilter, MetadataFilters,
                                                  VectorStoreQuery)
from llama_index.vector_stores.postgres import PGVectorStore

from conftest import DIM, LIBRARY, TEXTS, VERSION, cosine_order, dsn, embed, extension_row, sa_url, topic

QUERY = "something to build a shed with"
HNSW = {"hnsw_m": 16, "hnsw_ef_construction": 64, "hnsw_ef_search": 100, "hnsw_dist_method": "vector_cosine_ops"}


def store(db, **kw):
    return PGVectorStore(connection_string=sa_url("psycopg2", db), async_connection_string=sa_url("asyncpg", db),
                         table_name="notes", embed_dim=DIM, hnsw_kwargs=dict(HNSW),
                         initialization_fail_on_error=True, **kw)


def nodes(texts):
    return [TextNode(id_=f"node-{TEXTS.index(t)}", text=t, embedding=embed(t), metadata={"topic": topic(t)},
                     relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"doc-{topic(t)}")})
            for t in texts]


def answer(result):
    return [(n.get_content(), s) for n, s in zip(result.nodes, result.similarities)]


def check(rows, texts, k):
    exact = cosine_order(QUERY, texts, k)
    assert [t for t, _ in rows] == [t for t, _ in exact], (rows, exact)
    for (_, sim), (_, dist) in zip(rows, exact):
        assert abs(sim - (1 - dist)) < 1e-5, (rows, exact)


def index_scans(db):
    with psycopg.connect(dsn(db)) as c:
        return c.execute("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'data_notes_embedding_idx'"
                         ).fetchone()[0]


def test_pgvectorstore(dbname):
    s = store(dbname)
    ids = s.add(nodes(TEXTS))
    assert ids == [f"node-{i}" for i in range(len(TEXTS))]
    assert extension_row(dbname) == ("vector", f"vecstore-{VERSION}", LIBRARY)
    with psycopg.connect(dsn(dbname)) as c:
        (indexdef,) = c.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'data_notes' "
                                "AND indexdef LIKE '%USING hnsw%'").fetchone()
    assert "USING hnsw (embedding vector_cosine_ops) WITH (m='16', ef_construction='64')" in indexdef, indexdef

    q = VectorStoreQuery(query_embedding=embed(QUERY), similarity_top_k=5)
    check(answer(s.query(q)), TEXTS, 5)

    # with sequential scans off in its sessions the same answer comes from the HNSW index
    before = index_scans(dbname)
    indexed = store(dbname, create_engine_kwargs={"connect_args": {"options": "-c enable_seqscan=off"}})
    check(answer(indexed.query(q)), TEXTS, 5)
    deadline = time.time() + 10
    while index_scans(dbname) == before and time.time() < deadline:
        time.sleep(0.2)  # statistics reach the view within a second of the query
    assert index_scans(dbname) > before

    tools = MetadataFilters(filters=[MetadataFilter(key="topic", value="tool", operator=FilterOperator.EQ)])
    check(answer(s.query(VectorStoreQuery(query_embedding=embed(QUERY), similarity_top_k=3, filters=tools))),
          [t for t in TEXTS if topic(t) == "tool"], 3)

    # async path (asyncpg)
    check(answer(asyncio.run(s.aquery(q))), TEXTS, 5)

    s.delete(ref_doc_id="doc-fruit")
    left = [t for t in TEXTS if topic(t) == "tool"]
    check(answer(s.query(q)), left, 5)
    first = answer(s.query(q))[0][0]
    s.delete_nodes(node_ids=[f"node-{TEXTS.index(first)}"])
    check(answer(s.query(q)), [t for t in left if t != first], 5)
    with psycopg.connect(dsn(dbname)) as c:
        assert c.execute("SELECT count(*) FROM data_notes").fetchone()[0] == len(left) - 1
