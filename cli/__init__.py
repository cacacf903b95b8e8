"""The ``kb`` command line: a composition root beside ``web`` (nothing imports it but entry points).

``bootstrap.bootstrap()`` wires the domain events and periodic jobs of every package, for the
command line, the ASGI app (``cli.asgi:app``) and the tests alike.
"""
