"""`python -m strongroom.client.app` starts the phone app on this machine."""

from strongroom.client.app.app import main

if __name__ == "__main__":
    main()
