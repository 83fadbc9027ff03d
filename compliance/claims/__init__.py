"""The claims of compensating controls, by domain, and the engine they share (`engine`).

Each claim is a `Check`: a small, pure function of a synthesized resource and the resources it
references or that reference it. `compliance.checks` lists them all for the code that acknowledges.
"""
