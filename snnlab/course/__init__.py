"""What the lessons use beside the library: the exercises and their checks (:mod:`.exercises`), the
interactive widgets (:mod:`.widgets`, ipywidgets + plotly), the figures (:mod:`.viz`) and the capstone's
grader (:mod:`.capstone`). Import the module you need (``from snnlab.course import viz, widgets``); none is
imported here, so the library runs without the notebook packages."""
