"""The Diskominfotik Sumatera Barat hosting SOP as code.

The package keeps a pure core (``domain``) and puts every outside system behind one
adapter each (``adapters``). ``pipeline`` walks the SOP's 12 steps; ``cli`` is the thin
``sop`` command over it.
"""

__version__ = "0.1.0"
