"""salespulse: live sales activity and sales performance from Kafka streams."""

__version__ = "0.1.0"
