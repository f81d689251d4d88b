"""The browser UI and the REST API."""
