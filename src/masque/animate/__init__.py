"""Photo animation (``masque animate``) and expression reenactment (``masque reenact``).

- :mod:`masque.animate.motion`: relative motion of a driving face, moved onto another face.
- :mod:`masque.animate.render`: the scene mesh (face, head ring, falloff, fixed border) and the
  painted mouth interior.
- :mod:`masque.animate.animator`: the streaming API, :class:`Animator` and :class:`Reenactor`
  (``step(frame) -> frame``).
- :mod:`masque.animate.files`: whole videos, labelled, with the driving audio and frame rate.
"""

from masque.animate.animator import AnimateConfig, Animator, Reenactor

__all__ = ["AnimateConfig", "Animator", "Reenactor"]
