"""orderpipe: a real-time e-commerce order-history pipeline, on AWS or on this machine."""

__version__ = "0.1.0"
