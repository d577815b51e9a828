"""Style transfer and image translation: Gatys optimisation, fast (feed-forward) style, CycleGAN."""
