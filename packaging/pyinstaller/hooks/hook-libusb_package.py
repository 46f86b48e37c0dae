# posbridge's PyInstaller hook for libusb-package, in place of the one the package ships,
# which copies its libusb to the top of the bundle. libusb_package looks for its library
# beside its own modules (importlib.resources), so it is kept there: the fallback that
# posbridge.transports.usb.get_backend uses when the system has no libusb.
from PyInstaller.utils.hooks import collect_dynamic_libs

binaries = collect_dynamic_libs("libusb_package")
