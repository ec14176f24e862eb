#!/usr/bin/env python3
"""Writes the trainer's Parquet input from a raw event log with DataFusion SQL.

Usage: python3 scripts/datafusion-recipe.py RAW_DIR OUT_DIR

RAW_DIR holds a raw log in a shape a shop's event pipeline might export:
  events.csv     visitor, product, ts_ms (Unix milliseconds), event ('detail', 'addtocart', 'transaction', ...)
  catalog.csv  sku, name, dept
OUT_DIR receives interactions.parquet and items.parquet in the schema of src/train/input.rs, which
`localrec-train --data OUT_DIR` reads. The same SQL runs unchanged on Ballista (DataFusion's distributed
scheduler) over a log larger than one machine, and docs/data.md gives its Spark SQL twin.
Tested by tests/input.rs, which compares what the trainer reads from these files with the same data
written as the trainer's CSV.
"""
import os
import sys

from datafusion import SessionContext

INTERACTIONS = """
SELECT CAST(visitor AS VARCHAR)            AS user_id,
       CAST(product AS VARCHAR)            AS item_id,
       CAST(ts_ms AS DOUBLE) / 1000.0      AS timestamp,
       CASE event WHEN 'detail'      THEN 'view'
                  WHEN 'addtocart'   THEN 'cart'
                  WHEN 'transaction' THEN 'purchase' END AS kind
FROM events
WHERE event IN ('detail', 'addtocart', 'transaction')
"""

ITEMS = """
SELECT CAST(sku AS VARCHAR) AS item_id, name AS title, dept AS category
FROM catalog
"""


def main(raw: str, out: str) -> None:
    os.makedirs(out, exist_ok=True)
    ctx = SessionContext()
    ctx.register_csv("events", os.path.join(raw, "events.csv"))
    ctx.register_csv("catalog", os.path.join(raw, "catalog.csv"))
    for name, query in (("interactions", INTERACTIONS), ("items", ITEMS)):
        target = os.path.join(out, f"{name}.parquet")
        ctx.sql(f"COPY ({query}) TO '{target}' STORED AS PARQUET").collect()
        print(f"wrote {target}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
