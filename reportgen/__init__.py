"""reportgen: turn a server's logs into a forensic write-up of a suspected break-in."""

__version__ = "0.1.0"
