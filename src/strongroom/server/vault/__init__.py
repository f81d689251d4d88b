"""Folders, password lists, records and the permissions on lists."""
