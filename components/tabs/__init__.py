"""The studio's tabs: one module each, a `build()` that lays it out and its handlers as named functions."""
