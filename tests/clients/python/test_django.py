"""Django with pgvector.django: VectorField, HnswIndex, distance functions,
through a real migration."""
import numpy as np
import psycopg
import django
from django.conf import settings
from conftest import HOST, ROWS, QUERY, L2_ORDER, dsn


def test_django(dbname):
    with psycopg.connect(dsn(dbname), autocommit=True) as c:
        c.execute("DROP EXTENSION vecstore")  # the migration creates it
    settings.configure(
        DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "NAME": dbname, "HOST": HOST}},
        INSTALLED_APPS=["vsapp"], DEFAULT_AUTO_FIELD="django.db.models.AutoField", USE_TZ=True)
    django.setup()
    from django.core.management import call_command
    from pgvector.django import CosineDistance, L2Distance
    from vsapp.models import Item
    call_command("migrate", "vsapp", verbosity=0)
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
