"""Briefcase's entry package for the Strongroom phone app.

Briefcase requires a top-level package named like the app
(`strongroom_mobile`); the app itself is `strongroom.client.app`.
"""
