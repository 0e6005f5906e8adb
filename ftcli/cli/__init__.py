"""The command line: one module per command; app.py only wires them together."""
