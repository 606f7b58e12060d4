"""Sphinx configuration: ``sphinx-build -b html doc doc/_build/html``."""

project = 'glance_import'
master_doc = 'index'
exclude_patterns = ['_build']
html_theme = 'alabaster'
