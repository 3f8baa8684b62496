"""Live sources: the systems where jobs live — Spark History Servers, running applications' driver UIs, Airflow.

The server talks only to the servers named in its settings and to this machine's loopback driver
UIs; an agent names a server, never a URL.  Everything fetched goes through one transport
(:mod:`.transport`) and into the analyses that read files (event-log analysis, log diagnosis, plan
findings), so a live answer equals the offline analysis of the same data.
"""
