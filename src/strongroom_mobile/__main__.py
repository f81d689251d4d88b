"""What Briefcase runs on the phone (and `briefcase dev` on a desktop)."""

from strongroom.client.app.app import main

if __name__ == "__main__":
    main()
