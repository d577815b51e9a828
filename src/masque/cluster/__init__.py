"""Batch work on a Ray cluster: ``masque extract|convert|swap|detect --ray ADDRESS`` (extra ``masque[cluster]``).

:mod:`masque.cluster.runner` drives (inputs to tasks, progress, summary), :mod:`masque.cluster.jobs`
holds what the workers run, :mod:`masque.cluster.segments` cuts long videos at keyframes and joins
the pieces. Ray itself is imported only when a run connects.
"""
