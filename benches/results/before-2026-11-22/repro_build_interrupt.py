#!/usr/bin/env python3
"""Repro for "hnsw build stopped without an interrupt" (vecstore 0.1.0):
repeated CREATE INDEX on 10,000 real embeddings in a throwaway cluster.
Run: /usr/bin/python3 repro_build_interrupt.py PG_CONFIG D.base.fvecs [shared_buffers] [pause_s]
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import benchlib  # noqa: E402

pg_config, base_path = sys.argv[1], sys.argv[2]
shared_buffers = sys.argv[3] if len(sys.argv) > 3 else "1GB"
pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
base = benchlib.read_vecs(base_path)[:10000]
c = benchlib.Cluster(pg_config, {"shared_buffers": shared_buffers})
failed = 0
try:
    conn = benchlib.connect(c.dsn())
    conn.execute("CREATE EXTENSION vecstore")
    conn.execute(f"CREATE TABLE items (id int PRIMARY KEY, embedding vector({base.shape[1]}))")
    benchlib.copy_vectors(conn, base)
    for mwm in ("256MB", "64MB", "256MB", "32MB", "1GB"):
        conn.execute(f"SET maintenance_work_mem = '{mwm}'")
        conn.execute("DROP INDEX IF EXISTS i")
        time.sleep(pause)
        try:
            conn.execute("CREATE INDEX i ON items USING hnsw (embedding vector_l2_ops)")
            print(mwm, "ok", flush=True)
        except Exception as e:  # noqa: BLE001
            failed += 1
            print(mwm, "FAILED:", str(e).splitlines()[0], "-> new connection", flush=True)
            conn.close()
            conn = benchlib.connect(c.dsn())
finally:
    c.destroy()
print(f"{failed} of 5 builds failed")
