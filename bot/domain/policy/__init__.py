"""The governance policy: targets, rules, reminders and lifecycle (pure: no I/O).

`model` holds the types, `durations` the `30s/15m/4h/7d` syntax; matching a request to its
rule and counting approvals live beside them.
"""
