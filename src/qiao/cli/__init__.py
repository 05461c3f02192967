"""Command-line interface: ``qiao kb``, ``ask``, ``search``, ``eval`` and ``demo``."""

__all__: list[str] = []
