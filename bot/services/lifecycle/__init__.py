"""The connector lifecycle: the inventory, scheduled re-tests, drift and the thread story."""
