"""``posbridge gui``: a desktop control panel over the same Listener that ``serve`` runs.

``presenter`` decides what the panel shows for each state (pure, tested without a display),
``settings`` remembers the operator's choices, ``window`` is the Tk window itself.
"""
