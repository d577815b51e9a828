"""Library values the parsers show, copied here so that ``--help`` imports none of the library.

The registered names live in registries filled as OpenCV- and torch-heavy modules import, and the
defaults in config dataclasses beside them; importing those for ``masque swap --help`` would cost
seconds. tests/test_startup.py checks every copy against the library, so a new colour matcher,
blender or architecture fails there until it is added here.
"""

from __future__ import annotations

#: masque.models.MODELS.names()
MODEL_NAMES = ["hires", "lightweight", "original"]
#: masque.train.recipes.RECIPES.names()
RECIPE_NAMES = ["classic", "gan", "perceptual"]
#: masque.train.recipes.Schedule().warmup
TRAIN_WARMUP = 100
#: masque.train.trainer.TrainConfig().balance
TRAIN_BALANCE = 0.5
#: masque.train.losses.LossConfig().background
TRAIN_BACKGROUND = 0.0
#: masque.demo.DemoConfig.enhancer_share
DEMO_ENHANCER_SHARE = 0.3
#: masque.compose.color.COLOR_MATCHERS.names()
COLOR_NAMES = ["avg", "hist", "none", "ratio", "rct", "rct-ratio"]
#: masque.compose.blend.BLENDERS.names()
BLEND_NAMES = ["gaussian", "none", "poisson", "seamless"]

#: masque.oneshot.SwapConfig's color, blend and mask
SWAP_COLOR, SWAP_BLEND, SWAP_MASK = "rct-ratio", "gaussian", "extended"
#: masque.convert.ConvertConfig's color, blend, mask and color_smooth
CONVERT_COLOR, CONVERT_BLEND, CONVERT_MASK, CONVERT_COLOR_SMOOTH = "rct-ratio", "gaussian", "occlusion", 0.0
#: masque.face.TrackerConfig.redetect_every
TRACK_REDETECT_EVERY = 10
#: masque.metrics.DEFAULT_EVERY
EVALUATE_EVERY = 10
#: masque.animate.AnimateConfig's size, crop and smooth
ANIMATE_SIZE, ANIMATE_CROP, ANIMATE_SMOOTH = 512, "face", 0.5
#: masque.animate.files.FIRST_FRAMES (animate and reenact --first-frames)
ANIMATE_FIRST_FRAMES = 50
#: masque.forensics.detect.DetectConfig.every
DETECT_EVERY = 5
#: masque.forensics.train.DetectTrainConfig.steps
DETECT_TRAIN_STEPS = 3000
#: masque.forensics.train.DetectTrainConfig.ema
DETECT_TRAIN_EMA = 0.998
#: masque.stylize.gatys.GatysConfig's defaults shown by masque style
STYLE_SIZE, STYLE_STEPS, STYLE_SCALES, STYLE_OPTIMIZER = 512, 20, 3, "lbfgs"
STYLE_CONTENT_WEIGHT, STYLE_STYLE_WEIGHT, STYLE_FACE_WEIGHT = 1.0, 6.0, 1.0
STYLE_CONTENT_LAYERS = ("block4_relu2",)
STYLE_STYLE_LAYERS = ("block1_relu1", "block2_relu1", "block3_relu1", "block4_relu1", "block5_relu1")
#: masque.stylize.cyclegan.CycleConfig's size and steps shown by masque translate train
TRANSLATE_SIZE, TRANSLATE_STEPS = 96, 20000
