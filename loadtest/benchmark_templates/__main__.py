"""``python -m loadtest.benchmark_templates``: see the package docstring."""

from loadtest.benchmark_templates import main

raise SystemExit(main())
