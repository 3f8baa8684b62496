"""analyze_event_log: a Spark event log read in one pass, analysed, replayed (what-if) and turned into findings."""
