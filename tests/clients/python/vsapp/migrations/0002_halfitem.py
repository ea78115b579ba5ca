"""The migration `makemigrations` writes for vsapp.models.HalfItem
(halfvec and bit columns, HNSW indexes with halfvec/bit opclasses)."""
from django.db import migrations, models
import pgvector.django


class Migration(migrations.Migration):
    dependencies = [("vsapp", "0001_initial")]
    operations = [
        migrations.CreateModel(
            name="HalfItem",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("embedding", pgvector.django.HalfVectorField(dimensions=3)),
                ("bits", pgvector.django.BitField(length=8)),
            ],
            options={
                "indexes": [
                    pgvector.django.HnswIndex(ef_construction=64, fields=["embedding"], m=16,
                                              name="vsapp_halfitem_l2_idx", opclasses=["halfvec_l2_ops"]),
                    pgvector.django.HnswIndex(ef_construction=64, fields=["embedding"], m=16,
                                              name="vsapp_halfitem_cos_idx", opclasses=["halfvec_cosine_ops"]),
                    pgvector.django.HnswIndex(ef_construction=64, fields=["bits"], m=16,
                                              name="vsapp_halfitem_ham_idx", opclasses=["bit_hamming_ops"]),
                ],
            },
        ),
    ]
