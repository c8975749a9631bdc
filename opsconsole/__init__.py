"""opsconsole: a terminal ops console for data platforms."""

__version__ = "0.1.0"
