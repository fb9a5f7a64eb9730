"""Bridges to other libraries' models of the same things (``transitions``)."""
