"""The columnar engine (issue 23): DuckDB, behind named queries. The one package that imports duckdb and pyarrow.

``engine`` holds a connection under a memory limit (spilling to a temp folder) and moves columns in and out as
Arrow; ``regex`` translates globs into RE2 regular expressions (linear time, as DuckDB runs them); ``keys`` writes
the SQL that renders fileid templates into output keys; ``planning`` is the plan as named queries over the tables
``sources``, ``observed`` and ``ledger``. Nothing here reads a clock, lists a bucket or writes state.
"""
