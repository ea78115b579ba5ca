"""SQLAlchemy 2 with pgvector.sqlalchemy: Vector column, distance
comparators, an HNSW index declared on the model."""
import numpy as np
from pgvector.sqlalchemy import Vector
from sqlalchemy import Index, Integer, create_engine, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from conftest import HOST, ROWS, QUERY, L2_ORDER


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "sa_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    embedding = mapped_column(Vector(3))


Index("sa_items_embedding_idx", Item.embedding, postgresql_using="hnsw",
      postgresql_with={"m": 16, "ef_construction": 64}, postgresql_ops={"embedding": "vector_l2_ops"})


def test_sqlalchemy(dbname):
    engine = create_engine(f"postgresql+psycopg://@/{dbname}?host={HOST}")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add_all([Item(id=i, embedding=np.array(r)) for i, r in enumerate(ROWS, start=1)])
        s.commit()
        ids = s.scalars(select(Item.id).order_by(Item.embedding.l2_distance(QUERY)).limit(5)).all()
        assert ids == L2_ORDER
        d = s.scalar(select(Item.embedding.cosine_distance([2, 2, 2])).where(Item.id == 1))
        assert abs(d) < 1e-9
        top_ip = s.scalar(select(Item.id).order_by(Item.embedding.max_inner_product(QUERY)).limit(1))
        assert top_ip == 5
        got = s.scalar(select(Item.embedding).where(Item.id == 4))
        assert list(got) == [-1.0, 0.0, 5.0]
    with engine.connect() as c:
        indexdef = c.exec_driver_sql("SELECT indexdef FROM pg_indexes WHERE indexname = 'sa_items_embedding_idx'").scalar()
        assert "USING hnsw (embedding vector_l2_ops)" in indexdef and "m='16'" in indexdef
        c.exec_driver_sql("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in c.exec_driver_sql("EXPLAIN SELECT id FROM sa_items ORDER BY embedding <-> '[1,1,1]' LIMIT 3"))
        assert "Index Scan using sa_items_embedding_idx" in plan
    engine.dispose()


class IvfItem(Base):
    __tablename__ = "sa_ivf_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    embedding = mapped_column(Vector(3))


Index("sa_ivf_items_embedding_idx", IvfItem.embedding, postgresql_using="ivfflat",
      postgresql_with={"lists": 2}, postgresql_ops={"embedding": "vector_cosine_ops"})


def test_sqlalchemy_ivfflat(dbname):
    """An ivfflat index declared on the model, answering cosine_distance with
    ivfflat.probes = lists as a sequential scan does (up to float ties)."""
    engine = create_engine(f"postgresql+psycopg://@/{dbname}?host={HOST}")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add_all([IvfItem(id=i, embedding=np.array(r)) for i, r in enumerate(ROWS, start=1)])
        s.commit()
        q = select(IvfItem.id, IvfItem.embedding.cosine_distance([1, 2, 3])).order_by(
            IvfItem.embedding.cosine_distance([1, 2, 3]))
        s.execute(text("SET enable_indexscan = off"))  # exact: a sequential scan
        exact = [d for _, d in s.execute(q)]
        assert len(exact) == len(ROWS)
        s.execute(text("SET enable_indexscan = on"))
        s.execute(text("SET enable_seqscan = off"))
        s.execute(text("SET ivfflat.probes = 2"))
        plan = "\n".join(r[0] for r in s.execute(text("EXPLAIN " + str(q.compile(engine, compile_kwargs={"literal_binds": True})))))
        assert "Index Scan using sa_ivf_items_embedding_idx" in plan, plan
        got = [d for _, d in s.execute(q)]
        # [1,1,1] and [2,2,2] are equally far in exact arithmetic: the index
        # (normalised vectors, as pgvector's) may return them either way
        assert len(got) == len(exact) and all(abs(a - b) < 1e-9 for a, b in zip(got, exact)), (got, exact)
    with engine.connect() as c:
        indexdef = c.exec_driver_sql("SELECT indexdef FROM pg_indexes WHERE indexname = 'sa_ivf_items_embedding_idx'").scalar()
        assert "USING ivfflat (embedding vector_cosine_ops) WITH (lists='2')" in indexdef
    engine.dispose()
