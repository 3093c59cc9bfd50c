"""What the two SQL backends share beyond rows and checks: the store methods whose logic
does not depend on the database, written once over a few primitives each backend supplies
(`sqlite/`, `postgres/`). Column order and row mapping are `store/rows.py`; argument
checks and domain errors `store/checks.py`."""
