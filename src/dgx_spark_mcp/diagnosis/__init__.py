"""Why did it fail, why is it slow: diagnosis of Spark and Airflow logs, event logs and query plans.

Read top to bottom, the sub-packages are the pipeline:

- :mod:`.reading` opens any input as a stream of lines (plain, zstd, lz4, snappy, lzf, gzip), tells
  its kind, and cuts a text log into records (a logged event with its stack trace);
- :mod:`.findings` is what every diagnosis returns: the finding model, the signature registry
  (``data/log-signatures.json``), the fixes sized to the hardware, and the ranking;
- one package per input kind: :mod:`.logs` (Spark driver/executor and Airflow logs,
  ``diagnose_log``), :mod:`.eventlogs` (``analyze_event_log``: one streaming pass into an app log,
  the analysis, the what-if replay, the tuning advice) and :mod:`.plans` (``analyze_query_plan``);
- :mod:`.context_store` keeps each answer by content hash, so the same input is answered from
  the store, and ``ask`` reads findings from there.

Nothing is imported here: the server imports only the modules its tools need, and the
compression and JSON libraries load on the first read.
"""
