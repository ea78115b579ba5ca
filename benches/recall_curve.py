#!/usr/bin/env python3
"""Recall-vs-QPS curve of vecstore's HNSW index alone: side_by_side.py with
--sides vecstore (same options; data paths and a server are required).

Run: /usr/bin/python3 benches/recall_curve.py --pg-config PATH/pg_config \\
         --base D.base.fvecs --query D.query.fvecs --gt D.gt-l2.ivecs [--metric l2|cos] [--out bench-out]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import side_by_side  # noqa: E402

if __name__ == "__main__":
    if not any(a == "--sides" or a.startswith("--sides=") for a in sys.argv[1:]):
        sys.argv[1:1] = ["--sides", "vecstore", "--rounds", "1"]
    side_by_side.main()
