"""Django with pgvector-python's unchanged VectorExtension() migration: the
migration creates extension `vector`, which is vecstore; VectorField,
HnswIndex and the distance functions work on it, answered by the index."""
import numpy as np
import django
from django.conf import settings

from conftest import HOST, LIBRARY, PORT, VERSION, extension_row

ROWS = [[1, 1, 1], [2, 2, 2], [1, 1, 2], [-1, 0, 5], [10, -3, 1], [0.5, 0.25, -1.5]]
QUERY = [1, 1, 1]


def exact_l2(query):
    d = [(i, float(np.linalg.norm(np.array(r, dtype=np.float64) - query))) for i, r in enumerate(ROWS, start=1)]
    return [i for i, _ in sorted(d, key=lambda x: (x[1], x[0]))]


def test_vector_extension_migration(dbname):
    assert extension_row(dbname) is None
    settings.configure(
        DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "NAME": dbname, "HOST": HOST, "PORT": PORT}},
        INSTALLED_APPS=["fwapp"], DEFAULT_AUTO_FIELD="django.db.models.AutoField", USE_TZ=True)
    django.setup()
    from django.core.management import call_command
    call_command("migrate", "fwapp", verbosity=0)
    call_command("makemigrations", "fwapp", check=True, dry_run=True, verbosity=0)  # the migration matches the model
    assert extension_row(dbname) == ("vector", f"vecstore-{VERSION}", LIBRARY)

    from django.db import connection, transaction
    from pgvector.django import CosineDistance, L2Distance, MaxInnerProduct
    from fwapp.models import Item
    Item.objects.bulk_create([Item(id=i, embedding=np.array(r)) for i, r in enumerate(ROWS, start=1)])
    with connection.cursor() as cur:
        cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'fwapp_item_embedding_idx'")
        assert "USING hnsw (embedding vector_l2_ops) WITH (m='16', ef_construction='64')" in cur.fetchone()[0]
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET LOCAL enable_seqscan = off")
        qs = Item.objects.order_by(L2Distance("embedding", QUERY)).values_list("id", flat=True)
        assert "Index Scan using fwapp_item_embedding_idx" in qs.explain()
        assert list(qs) == exact_l2(np.array(QUERY, dtype=np.float64))
    near = Item.objects.annotate(d=CosineDistance("embedding", [2, 2, 2])).order_by("d", "id").first()
    assert near.id == 1 and abs(near.d) < 1e-9
    best = Item.objects.annotate(d=MaxInnerProduct("embedding", QUERY)).order_by("d").first()
    assert best.id == 5 and best.d == -8.0
    assert list(Item.objects.get(id=4).embedding) == [-1.0, 0.0, 5.0]
    # the migration runs again on a database that has the extension: IF NOT EXISTS
    call_command("migrate", "fwapp", "zero", verbosity=0)
    call_command("migrate", "fwapp", verbosity=0)
    assert extension_row(dbname)[0] == "vector"
