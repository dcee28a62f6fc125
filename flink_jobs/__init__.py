"""Flink job graphs and their entry points (each module has ``main()`` + argparse)."""
