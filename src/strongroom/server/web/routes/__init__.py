"""The browser UI pages, one module per area."""
