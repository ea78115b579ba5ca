"""A Django model exactly as pgvector-python's README shows it."""
from django.db import models
from pgvector.django import HnswIndex, VectorField


class Item(models.Model):
    embedding = VectorField(dimensions=3)

    class Meta:
        app_label = "fwapp"
        indexes = [
            HnswIndex(name="fwapp_item_embedding_idx", fields=["embedding"], m=16, ef_construction=64,
                      opclasses=["vector_l2_ops"]),
        ]
