"""The package version, in one place that every module can import without importing the package top."""
__version__ = "0.1.0"
