"""Provenance labels: every image and video masque writes says that it is synthetic.

Two labels, both on by default:

- an invisible watermark in the pixels of every frame (:mod:`masque.provenance.watermark`),
  carrying masque's version and a random run id under an error-correcting code;
- a signed C2PA manifest (:mod:`masque.provenance.manifest`) with a ``c2pa.actions`` assertion
  whose digitalSourceType says "composite with trained algorithmic media" or "trained
  algorithmic media", and ``masque <version>`` as the software agent.

Writers use them like this::

    labeler = Labeler(LabelConfig(kind="composite"))
    for frame in frames:
        writer.write(labeler.mark(frame))
    writer.close()
    labeler.finalize(path)

and :func:`verify_file` reads both back.
"""

from masque.provenance.labeler import LabelConfig, Labeler
from masque.provenance.manifest import ManifestReport
from masque.provenance.verify import VerifyReport, WatermarkReport, verify_file

__all__ = ["LabelConfig", "Labeler", "ManifestReport", "VerifyReport", "WatermarkReport", "verify_file"]
