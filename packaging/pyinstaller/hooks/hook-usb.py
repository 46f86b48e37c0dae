# posbridge's PyInstaller hook for pyusb, in place of pyinstaller-hooks-contrib's, which copies
# the libusb of the machine that builds the bundle into it. The bundle carries only
# libusb-package's libusb (hook-libusb_package.py); at run time posbridge asks the system
# first (on Linux its libusb follows plugging through udev) and falls back to that copy
# (posbridge.transports.usb.get_backend). posbridge.spec also leaves out the contrib's
# run-time hook for pyusb. pyusb's modules themselves are found by the analysis.
binaries: list[tuple[str, str]] = []
