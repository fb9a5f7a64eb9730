"""``python -m socialflow``: the same as the ``socialflow`` command."""

from socialflow.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
