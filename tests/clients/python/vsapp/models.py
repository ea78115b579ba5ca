"""A Django model as pgvector's docs show it."""
from django.db import models
from pgvector.django import BitField, HalfVectorField, HnswIndex, IvfflatIndex, SparseVectorField, VectorField


class Item(models.Model):
    embedding = VectorField(dimensions=3)

    class Meta:
        app_label = "vsapp"
        indexes = [
            HnswIndex(name="vsapp_item_embedding_idx", fields=["embedding"], m=16, ef_construction=64,
                      opclasses=["vector_l2_ops"]),
        ]


class HalfItem(models.Model):
    """halfvec and bit columns with their HNSW indexes (issue 9 item 6)."""
    embedding = HalfVectorField(dimensions=3)
    bits = BitField(length=8)

    class Meta:
        app_label = "vsapp"
        indexes = [
            HnswIndex(name="vsapp_halfitem_l2_idx", fields=["embedding"], m=16, ef_construction=64,
                      opclasses=["halfvec_l2_ops"]),
            HnswIndex(name="vsapp_halfitem_cos_idx", fields=["embedding"], m=16, ef_construction=64,
                      opclasses=["halfvec_cosine_ops"]),
            HnswIndex(name="vsapp_halfitem_ham_idx", fields=["bits"], m=16, ef_construction=64,
                      opclasses=["bit_hamming_ops"]),
        ]


class SparseItem(models.Model):
    """A sparsevec column with an HNSW index per sparsevec opclass."""
    embedding = SparseVectorField(dimensions=6)

    class Meta:
        app_label = "vsapp"
        indexes = [
            HnswIndex(name=f"vsapp_sparseitem_{n}_idx", fields=["embedding"], m=16, ef_construction=64,
                      opclasses=[f"sparsevec_{o}_ops"])
            for n, o in [("l2", "l2"), ("ip", "ip"), ("cos", "cosine"), ("l1", "l1")]
        ]


class IvfItem(models.Model):
    """vector, halfvec and bit columns with pgvector's IvfflatIndex."""
    embedding = VectorField(dimensions=3)
    half = HalfVectorField(dimensions=3)
    bits = BitField(length=8)

    class Meta:
        app_label = "vsapp"
        indexes = [
            IvfflatIndex(name="vsapp_ivfitem_l2_idx", fields=["embedding"], lists=2, opclasses=["vector_l2_ops"]),
            IvfflatIndex(name="vsapp_ivfitem_half_idx", fields=["half"], lists=2, opclasses=["halfvec_cosine_ops"]),
            IvfflatIndex(name="vsapp_ivfitem_bits_idx", fields=["bits"], lists=2, opclasses=["bit_hamming_ops"]),
        ]
