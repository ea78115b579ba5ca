"""The migration `makemigrations` writes for vsapp.models.SparseItem
(a sparsevec column, HNSW indexes with the sparsevec opclasses)."""
from django.db import migrations, models
import pgvector.django


class Migration(migrations.Migration):
    dependencies = [("vsapp", "0002_halfitem")]
    operations = [
        migrations.CreateModel(
            name="SparseItem",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("embedding", pgvector.django.SparseVectorField(dimensions=6)),
            ],
            options={
                "indexes": [
                    pgvector.django.HnswIndex(ef_construction=64, fields=["embedding"], m=16,
                                              name="vsapp_sparseitem_l2_idx", opclasses=["sparsevec_l2_ops"]),
                    pgvector.django.HnswIndex(ef_construction=64, fields=["embedding"], m=16,
                                              name="vsapp_sparseitem_ip_idx", opclasses=["sparsevec_ip_ops"]),
                    pgvector.django.HnswIndex(ef_construction=64, fields=["embedding"], m=16,
                                              name="vsapp_sparseitem_cos_idx", opclasses=["sparsevec_cosine_ops"]),
                    pgvector.django.HnswIndex(ef_construction=64, fields=["embedding"], m=16,
                                              name="vsapp_sparseitem_l1_idx", opclasses=["sparsevec_l1_ops"]),
                ],
            },
        ),
    ]
