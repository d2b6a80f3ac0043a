"""The web app's tabs and the plumbing they share, over the core package (which never imports this one).

Modules: `widgets` (widgets built from config settings), `forms` (named widget values <-> configs), `streaming`
(a run's frames to the page, Stop, the PNG download), `restore` (settings back from a PNG's recipe), and one module
per tab: `features_tab`, `dream_tab`, `style_tab`. The top-level `app.py` puts the tabs together and launches them.
"""
