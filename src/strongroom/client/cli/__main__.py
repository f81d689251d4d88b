"""`python -m strongroom.client.cli`: the same as `strongroom-mobile`."""

from strongroom.client.cli.main import run

run()
