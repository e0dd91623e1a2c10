"""Sphinx configuration for the skneuralode documentation (``make docs``)."""

import os
import sys

import skneuralode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for _gallery_order

project = "skneuralode"
author = "skneuralode developers"
copyright = "skneuralode developers"
version = release = skneuralode.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",  # only to include ../CHANGELOG.md in changelog.rst
]
# No intersphinx: documentation builds run without network access.

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
default_role = "literal"

# -- API pages ----------------------------------------------------------------
autosummary_generate = True
# Own members only: the methods that come from scikit-learn (get_params, set_params,
# get_metadata_routing, and the set_*_request methods that scikit-learn generates on each
# estimator class) are listed in api.rst instead. Their docstrings refer to scikit-learn's
# glossary and labels, which do not exist in this site.
autodoc_default_options = {
    "members": True,
    "exclude-members": "set_fit_request, set_predict_request, set_score_request",
}
autodoc_typehints = "none"  # types are written in the numpydoc sections

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# Every cross-reference must resolve (-n). Without intersphinx, references to other
# projects' objects cannot; they are listed here one by one.
nitpicky = True
nitpick_ignore = [
    ("py:func", "scipy.integrate.solve_ivp"),
    ("py:func", "sklearn.metrics.r2_score"),
    ("py:class", "sklearn.utils.Bunch"),
]

# -- HTML -----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skneuralode {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_show_sourcelink = False
# Single pages have no section navigation: drop the empty left sidebar there.
SINGLE_PAGES = ("index", "install", "quickstart", "user_guide", "benchmarks", "changelog")
html_sidebars = {page: [] for page in SINGLE_PAGES}

# -- Gallery --------------------------------------------------------------------
# Only examples/plot_*.py are executed; other scripts (examples/admm_dask.py, which
# starts a Dask cluster) are listed with their code but not run during the build; the
# test suite runs every script. Examples appear in the order of their title numbers.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "_gallery_order.TitleNumberSortKey",
}
