"""The socialflow DSL: parse, check and hold rule files (``*.sf``)."""
