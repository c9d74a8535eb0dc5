"""The command line's side of eegavi: what ``cli.py``'s commands share (printing, the error guard,
reading ``--config`` YAML, the extraction progress bar). ``cli.py`` holds the Typer app and every
command's options; the library (``pipeline``, ``fusion``) never imports this package.
"""
