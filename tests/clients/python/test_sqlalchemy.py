"""SQLAlchemy 2 with pgvector.sqlalchemy: Vector column, distance
comparators, an HNSW index declared on the model."""
import numpy as np
from pgvector.sqlalchemy import Vector
from sqlalchemy import Index, Integer, create_engine, select
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
