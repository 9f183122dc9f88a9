"""Data files (JSON) written by tools/conformance_build.py; do not edit by hand."""
