"""Reading any input: codecs, the kind of a log, records (an event with its stack trace), the parallel scan."""
