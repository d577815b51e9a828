"""Imported by extract's fork server only: loads the default face models once, so every worker
forked from the server has them in memory at start (see :func:`masque.faceset.worker.warm_up`)."""

from masque.faceset import worker

worker.warm_up()
