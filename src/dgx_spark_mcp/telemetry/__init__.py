"""GPU telemetry: an embedded Parquet store queried with DuckDB (or Spark), its importers,
the NVML sampler, queries, usage and cost reports, and charts."""
