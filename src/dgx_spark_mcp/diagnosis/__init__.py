"""Why did it fail, why is it slow: readers and analyses of Spark logs.

- :mod:`.codecs` opens any log file (plain, zstd, lz4, snappy, lzf, gzip) as a stream of lines;
- :mod:`.eventlog_files` finds the files of one event log (a file, or a rolling ``eventlog_v2_*``
  directory) and whether the application is still running;
- :mod:`.eventlog` reads the events in one streaming pass into an :class:`~.app_log.AppLog`
  (task ends typed by :mod:`.spark_events`, failure texts shortened by :mod:`.failure_text`);
- :mod:`.eventlog_analysis` turns that into the bounded :class:`~.eventlog_models.EventLogAnalysis`
  an agent reads, with :mod:`.whatif` (Sparklens-style replay) and :mod:`.eventlog_tuning`
  (AutoTuner-style recommendations).

Nothing is imported here: the server imports only the modules its tools need, and the
compression and JSON libraries load on the first read.
"""
