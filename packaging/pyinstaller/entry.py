"""The bundle's ``posbridge`` executable: the same command as the installed package's
``posbridge`` script (``posbridge.cli:main``). PyInstaller starts here."""

import sys

from posbridge.cli import main

sys.exit(main())
