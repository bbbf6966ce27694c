"""The local demo: the example scenario and the officials' demo keys (never for production)."""
