"""Convert stage: swap faces through a trained model (:mod:`masque.convert.pipeline`) and run it
over files (:mod:`masque.convert.files`). Colour matching and blending live in
:mod:`masque.compose`, shared with the one-shot swap."""
