"""Results: the run record and its schema, tables, compare (pivots of many records), JUnit and the
HTML report. Records are read and written here; nothing here talks to an engine.

May import: common, versions. Never engines, guests or runs."""
