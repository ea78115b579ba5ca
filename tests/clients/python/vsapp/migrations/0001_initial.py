"""The migration `makemigrations` writes for vsapp.models, with the
extension created first (pgvector's docs use VectorExtension(); with
vecstore the extension is named vecstore)."""
from django.contrib.postgres.operations import CreateExtension
from django.db import migrations, models
import pgvector.django


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        CreateExtension("vecstore"),
        migrations.CreateModel(
            name="Item",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("embedding", pgvector.django.VectorField(dimensions=3)),
            ],
            options={
                "indexes": [pgvector.django.HnswIndex(ef_construction=64, fields=["embedding"], m=16,
                                                      name="vsapp_item_embedding_idx", opclasses=["vector_l2_ops"])],
            },
        ),
    ]
