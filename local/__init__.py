"""The local stack: real emulators, the real functions and GPU service, a fake Bot API."""
