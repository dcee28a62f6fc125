"""``python -m recstream`` == the ``recstream`` command."""
from recstream.cli import app

if __name__ == "__main__":  # Flink's Python workers may import this module: never run the CLI then
    app()
