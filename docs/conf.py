"""Sphinx configuration for the MissionControl docs."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "MissionControl"
author = "MissionControl developers"
copyright = "2026, MissionControl developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
exclude_patterns = ["_build"]
html_theme = "alabaster"
nitpicky = False
