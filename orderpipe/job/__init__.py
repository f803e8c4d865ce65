"""The ETL job, pydantic-free (it travels to Glue): the rules, the lake protocol (raw listing and
bookmarks, stage → manifest → publish, catalog, run summary) and two engines behind one
interface — DuckDB (the local default) and Spark (the Glue job).
"""
