"""Django with pgvector.django: VectorField, HnswIndex, distance functions,
through a real migration."""
import numpy as np
import psycopg
import pytest
import django
from django.conf import settings
from conftest import (HOST, ROWS, QUERY, L2_ORDER, dsn, HV_ROWS, HV_QUERY, HV_L2_ORDER, HV_COSINE_ORDER,
                      BIT_ROWS, BIT_QUERY, BIT_HAMMING_ORDER, hv_l2, hv_cosine, bit_hamming, check_order)


@pytest.fixture(scope="module")
def migrated(dbname):
    """Django configured once per process (settings.configure), vsapp migrated."""
    with psycopg.connect(dsn(dbname), autocommit=True) as c:
        c.execute("DROP EXTENSION vecstore")  # the migration creates it
    settings.configure(
        DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "NAME": dbname, "HOST": HOST}},
        INSTALLED_APPS=["vsapp"], DEFAULT_AUTO_FIELD="django.db.models.AutoField", USE_TZ=True)
    django.setup()
    from django.core.management import call_command
    call_command("migrate", "vsapp", verbosity=0)
    return dbname


def test_django(migrated):
    from pgvector.django import CosineDistance, L2Distance
    from vsapp.models import Item
    Item.objects.bulk_create([Item(id=i, embedding=np.array(r)) for i, r in enumerate(ROWS, start=1)])
    ids = list(Item.objects.order_by(L2Distance("embedding", QUERY)).values_list("id", flat=True)[:5])
    assert ids == L2_ORDER
    near = Item.objects.annotate(d=CosineDistance("embedding", [2, 2, 2])).order_by("d").first()
    assert near.id in (1, 2) and abs(near.d) < 1e-9
    assert list(Item.objects.get(id=4).embedding) == [-1.0, 0.0, 5.0]
    from django.db import connection
    with connection.cursor() as cur:
        cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'vsapp_item_embedding_idx'")
        assert "USING hnsw (embedding vector_l2_ops)" in cur.fetchone()[0]


def test_django_halfvec_bit(migrated):
    """HalfVectorField / BitField, HnswIndex with halfvec_l2_ops,
    halfvec_cosine_ops, bit_hamming_ops (migration 0002), and L2Distance,
    CosineDistance, HammingDistance answered by those indexes."""
    from django.core.management import call_command
    from django.db import connection, transaction
    from pgvector import HalfVector
    from pgvector.django import CosineDistance, HammingDistance, L2Distance
    from vsapp.models import HalfItem
    call_command("makemigrations", "vsapp", check=True, dry_run=True, verbosity=0)  # migrations match the models
    HalfItem.objects.bulk_create([
        HalfItem(id=i, embedding=(HalfVector(r) if i % 2 else np.array(r, dtype=np.float16)), bits=b)
        for i, (r, b) in enumerate(zip(HV_ROWS, BIT_ROWS), start=1)])
    for i in range(1, 7):
        item = HalfItem.objects.get(id=i)
        assert item.embedding == [float(x) for x in HV_ROWS[i - 1]]  # HalfVectorField gives list[float] in 0.5.1
        assert item.bits == BIT_ROWS[i - 1]
    with connection.cursor() as cur:
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'vsapp_halfitem'")
        defs = dict(cur.fetchall())
    assert "USING hnsw (embedding halfvec_l2_ops)" in defs["vsapp_halfitem_l2_idx"]
    assert "USING hnsw (embedding halfvec_cosine_ops)" in defs["vsapp_halfitem_cos_idx"]
    assert "USING hnsw (bits bit_hamming_ops)" in defs["vsapp_halfitem_ham_idx"]
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET LOCAL enable_seqscan = off")
        for func, order, dist, idx in [(L2Distance("embedding", HalfVector(HV_QUERY)), HV_L2_ORDER, hv_l2, "l2"),
                                       (CosineDistance("embedding", HalfVector(HV_QUERY)), HV_COSINE_ORDER, hv_cosine, "cos"),
                                       (HammingDistance("bits", BIT_QUERY), BIT_HAMMING_ORDER, bit_hamming, "ham")]:
            qs = HalfItem.objects.annotate(d=func).order_by("d").values_list("id", "d")[:6]
            check_order(list(qs), order, dist)
            plan = qs.explain()
            assert f"Index Scan using vsapp_halfitem_{idx}_idx" in plan, plan


def test_django_sparsevec(migrated):
    """SparseVectorField, HnswIndex with each sparsevec opclass (migration
    0003), and L2Distance, MaxInnerProduct, CosineDistance, L1Distance
    answered by those indexes in the exact order."""
    from django.core.management import call_command
    from django.db import connection, transaction
    from pgvector import SparseVector
    from pgvector.django import CosineDistance, L1Distance, L2Distance, MaxInnerProduct
    from test_sparsevec import NAMES, OPS, SV_QUERY, SV_ROWS, dist_of, sv
    from vsapp.models import SparseItem
    call_command("makemigrations", "vsapp", check=True, dry_run=True, verbosity=0)  # migrations match the models
    SparseItem.objects.bulk_create([SparseItem(id=i, embedding=(sv(r) if i % 2 else np.array(r, dtype=np.float32)))
                                    for i, r in enumerate(SV_ROWS, start=1)])
    for i in range(1, 7):
        got = SparseItem.objects.get(id=i).embedding
        assert isinstance(got, SparseVector) and got == sv(SV_ROWS[i - 1])
    with connection.cursor() as cur:
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'vsapp_sparseitem'")
        defs = dict(cur.fetchall())
    for op, (opclass, _, _) in OPS.items():
        assert f"USING hnsw (embedding {opclass})" in defs[f"vsapp_sparseitem_{NAMES[op]}_idx"]
    q = sv(SV_QUERY)
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET LOCAL enable_seqscan = off")
        for func, op in [(L2Distance("embedding", q), "<->"), (MaxInnerProduct("embedding", q), "<#>"),
                         (CosineDistance("embedding", q), "<=>"), (L1Distance("embedding", q), "<+>")]:
            qs = SparseItem.objects.annotate(d=func).order_by("d").values_list("id", "d")[:6]
            check_order(list(qs), OPS[op][2], dist_of(op))
            plan = qs.explain()
            assert f"Index Scan using vsapp_sparseitem_{NAMES[op]}_idx" in plan, plan


def test_django_ivfflat(migrated):
    """IvfflatIndex on vector, halfvec and bit columns (migration 0004): the
    indexes exist as declared and, with ivfflat.probes = lists, answer
    L2Distance, CosineDistance and HammingDistance as a sequential scan does
    (the same distances in order, up to ties of equal vectors' float sums)."""
    from django.core.management import call_command
    from django.db import connection, transaction
    from pgvector.django import CosineDistance, HammingDistance, L2Distance
    from vsapp.models import IvfItem
    call_command("makemigrations", "vsapp", check=True, dry_run=True, verbosity=0)  # migrations match the models
    bits = ["10101010", "11111111", "00000000", "10100000", "01010101", "10000001"]
    IvfItem.objects.bulk_create([IvfItem(id=i, embedding=np.array(r), half=r, bits=bits[i - 1])
                                 for i, r in enumerate(ROWS, start=1)])
    with connection.cursor() as cur:
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'vsapp_ivfitem'")
        defs = dict(cur.fetchall())
    # vector_l2_ops is ivfflat's default opclass, which pg_get_indexdef leaves out
    assert "USING ivfflat (embedding) WITH (lists='2')" in defs["vsapp_ivfitem_l2_idx"]
    assert "USING ivfflat (half halfvec_cosine_ops)" in defs["vsapp_ivfitem_half_idx"]
    assert "USING ivfflat (bits bit_hamming_ops)" in defs["vsapp_ivfitem_bits_idx"]
    for func, idx in [(L2Distance("embedding", QUERY), "l2"), (CosineDistance("half", QUERY), "half"),
                      (HammingDistance("bits", "10101011"), "bits")]:
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("SET LOCAL enable_indexscan = off")  # exact: a sequential scan
            exact = [d for _, d in IvfItem.objects.annotate(d=func).order_by("d", "id").values_list("id", "d")]
        assert len(exact) == len(ROWS)
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("SET LOCAL enable_seqscan = off")
                cur.execute("SET LOCAL ivfflat.probes = 2")
            qs = IvfItem.objects.annotate(d=func).order_by("d").values_list("id", "d")
            assert f"Index Scan using vsapp_ivfitem_{idx}_idx" in qs.explain()
            got = [d for _, d in qs]
        assert len(got) == len(exact) and all(abs(a - b) < 1e-6 for a, b in zip(got, exact)), (idx, got, exact)
