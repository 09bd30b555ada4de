"""How every Parquet file of a run is written: one set of options for all of them."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

__all__ = ["parquet_options"]


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """Writer options: zstd, and dictionaries only for the category columns.

    Dictionary-encoding float columns (pyarrow's default for every column) costs
    half the writing time and makes files larger; categories are already encoded.
    """
    categories = [f.name for f in schema if pa.types.is_dictionary(f.type)]
    return {"compression": "zstd", "use_dictionary": categories}
