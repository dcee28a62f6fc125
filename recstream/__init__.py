"""recstream: a real-time feature and interest-model pipeline on Apache Flink (PyFlink)."""
__version__ = "0.1.0"
