"""The migration `makemigrations` writes for vsapp.models.IvfItem (vector,
halfvec and bit columns with ivfflat indexes)."""
from django.db import migrations, models
import pgvector.django


class Migration(migrations.Migration):
    dependencies = [("vsapp", "0003_sparseitem")]
    operations = [
        migrations.CreateModel(
            name="IvfItem",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("embedding", pgvector.django.VectorField(dimensions=3)),
                ("half", pgvector.django.HalfVectorField(dimensions=3)),
                ("bits", pgvector.django.BitField(length=8)),
            ],
            options={
                "indexes": [
                    pgvector.django.IvfflatIndex(fields=["embedding"], lists=2, name="vsapp_ivfitem_l2_idx",
                                                 opclasses=["vector_l2_ops"]),
                    pgvector.django.IvfflatIndex(fields=["half"], lists=2, name="vsapp_ivfitem_half_idx",
                                                 opclasses=["halfvec_cosine_ops"]),
                    pgvector.django.IvfflatIndex(fields=["bits"], lists=2, name="vsapp_ivfitem_bits_idx",
                                                 opclasses=["bit_hamming_ops"]),
                ],
            },
        ),
    ]
