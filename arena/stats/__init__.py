"""Agreement and calibration statistics: pure functions over arrays, no I/O.

Import the modules themselves (``arena.stats.agreement``, ``arena.stats.calibration``); this package
imports nothing eagerly, so loading it costs nothing.
"""
