"""Thin PyFlink function wrappers around the framework-free logic in ``udfs``."""
