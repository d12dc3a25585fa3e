"""The Spark target (docs/spark.md): Parquet flattening of the extract, the same dbt models."""
