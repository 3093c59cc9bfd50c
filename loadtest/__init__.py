"""EUDI-Connect's own load-testing toolkit: a small library and thin scripts on it.

* :mod:`loadtest.lib` — the library: the load generator's engine and process pool, the
  latency histogram, CPU accounting, runs and medians, the SLA table, reports and plots,
  server processes and the service under test;
* :mod:`loadtest.scenarios` — the load generator's scenarios for CredentialService;
* :mod:`loadtest.echo_server` — the bare gRPC echo server, the ceiling every benchmark
  is compared with;
* the scripts, each run as ``python -m loadtest.<name>``: ``loadgen`` (any scenario by
  hand), ``benchmark_credential_exchange`` (``make bench``), ``scaling_test``,
  ``scaling_workers`` (``make bench-scaling``), ``benchmark_batch``, ``benchmark_templates``,
  ``production_test``, ``soak``, ``instrumentation_overhead``, ``ghz_run``
  (``make loadtest-ghz``), ``bench_store`` and ``bench_postgres_store``.
"""
