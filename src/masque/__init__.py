"""masque: face swapping toolkit."""
__version__ = "0.1.0"
