"""Executed notebooks run headless: nbval's kernels inherit this process's environment.

With ``SNNLAB_HEADLESS=1``, ``snnlab.widgets.interact`` shows its figure at the sliders' starting values
instead of making ipywidgets, whose messages to a front end that is not there can leave a cell's reply
waiting forever (cf. jupyter/nbclient#312). The course builds set the same variable
(book/build_course.py); tests/test_jupyterlab.py removes it for the JupyterLab it starts, whose kernels
have a front end.
"""
import os

os.environ.setdefault("SNNLAB_HEADLESS", "1")
