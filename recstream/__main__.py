"""``python -m recstream`` == the ``recstream`` command."""
from recstream.cli import app

app()
