"""Sphinx configuration for the MissionControl docs."""

import os
import sys

DOCS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(DOCS_DIR))
# Local extensions: mc_flow_graph draws example flows with Graphviz at build time.
sys.path.insert(0, os.path.join(DOCS_DIR, "_ext"))

project = "MissionControl"
author = "MissionControl developers"
copyright = "2026, MissionControl developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "mc_flow_graph",
]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
exclude_patterns = ["_build"]
html_theme = "alabaster"
nitpicky = False

# Every example in the docs runs in the doctest build. Examples import what
# they use, so that a reader can copy them; the only shared name is the docs
# directory, which hidden setup code uses to find the repository's examples/.
# The doc builds may run as root (in a container, in CI): the examples show
# what `mc` prints for an ordinary user, without its once-per-process warning.
doctest_global_setup = f"""DOCS_DIR = {DOCS_DIR!r}
import mc.cli.job_options
mc.cli.job_options._warned_about_root = True
"""
