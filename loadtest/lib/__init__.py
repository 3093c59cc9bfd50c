"""The load tools' library; each module has one job.

========== ==============================================================================
spec       what a run is asked to do (LoadSpec, the scenario contract) and gives back
engine     one worker's share of a run on an event loop; ``run_load_inprocess``
pool       several worker processes started together, results merged; ``run_load``
histogram  latency histogram on HdrHistogram, exact extremes, nearest-rank percentiles
cpu        cores to pin to, and the CPU time a process (tree) used, from /proc
server     a server under test as a pinned subprocess that announces ``READY <port>``
service    the credential service under test: database, tenant, ``serve`` sessions
runs       one measured run with the server's CPU, phases under one bar, medians
sla        the one SLA table and our own targets, with their verdicts
exchange   the credential exchange benchmark's medians, verdicts and text report
report     text tables, JSON documents, the machine's description, PNG plots
cli        command-line flags the benchmark scripts share
ghz        the ghz configs: loading, placeholders, call templates
store_rows credential rows and a leased status list for the store micro-benchmarks
========== ==============================================================================

Importing a module here never imports the service itself (``eudi_connect``), except
``store_rows``, whose job is the store.
"""
