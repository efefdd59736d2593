"""RegLab's client side: talk to a RegLab API from a worker, a notebook or a script.

``reglab.client`` holds the REST client and the run-scoped :class:`RunClient`;
``reglab.keras`` the Keras callback. Nothing here imports the server or needs
its database: a URL (``REGLAB_URL``) and a token (``REGLAB_TOKEN``) suffice.
"""
