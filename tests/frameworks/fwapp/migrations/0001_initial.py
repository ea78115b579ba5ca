"""What `makemigrations` writes for fwapp.models, with pgvector's documented
first operation, unchanged: VectorExtension() (CREATE EXTENSION IF NOT EXISTS vector)."""
from django.db import migrations, models
import pgvector.django
from pgvector.django import VectorExtension


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        VectorExtension(),
        migrations.CreateModel(
            name="Item",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("embedding", pgvector.django.VectorField(dimensions=3)),
            ],
            options={
                "indexes": [pgvector.django.HnswIndex(ef_construction=64, fields=["embedding"], m=16,
                                                      name="fwapp_item_embedding_idx", opclasses=["vector_l2_ops"])],
            },
        ),
    ]
