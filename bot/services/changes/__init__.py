"""Rotations and changes of managed connectors through approval: asking (`asking`), the
update, its test and the rollback (`applying`), and what the connector's thread is told
(`notices`)."""
