# Copyright (c) 2026 swift_forwarder developers
# Licensed under the Apache License, Version 2.0
"""swift_forwarder: forward Swift proxy requests to another Swift cluster."""

__version__ = '0.1.0'
__all__ = ['__version__']
