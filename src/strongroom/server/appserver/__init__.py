"""The App Server: the mobile API over HTTPS."""
