"""Which files of the fetched packages are photographs (renders, logos, masks and drawings are left out).

Keys are "skimage" (the scikit-image wheel's `skimage/data/`) or "<Debian package>/<folder>";
a person is in 31 of them: astronaut, camera, messi5, basketball1/2 and the 26 stereo-calibration
photos (left/rightNN: someone holding a chessboard).
"""

from __future__ import annotations

_OPENCV = "opencv-doc/usr/share/doc/opencv-doc/examples"
_STEREO = [f"{side}{i:02d}.jpg" for side in ("left", "right") for i in range(1, 15) if i != 10]

PHOTOS: dict[str, list[str]] = {
    "skimage": ["astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png",
                "coffee.png", "coins.png", "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png", "moon.png",
                "motorcycle_left.png", "motorcycle_right.png", "page.png", "retina.jpg", "rocket.jpg", "text.png"],
    f"{_OPENCV}/data": ["aero1.jpg", "aero3.jpg", "aloeL.jpg", "aloeR.jpg", "apple.jpg",
                        "baboon.jpg", "board.jpg", "building.jpg", "butterfly.jpg", "ela_original.jpg", "fruits.jpg",
                        "home.jpg", "left.jpg", "right.jpg", "leuvenA.jpg", "leuvenB.jpg", "licenseplate_motion.jpg",
                        "messi5.jpg", "orange.jpg", "pca_test1.jpg", "squirrel_cls.jpg", "stuff.jpg",
                        "text_defocus.jpg", "text_motion.jpg", "basketball1.png", "basketball2.png", "box.png",
                        "box_in_scene.png", "graf1.png", "graf3.png", "rubberwhale1.png", "rubberwhale2.png",
                        "chicky_512.png", "sudoku.png", *_STEREO],
    f"{_OPENCV}/text": [f"scenetext0{i}.jpg" for i in range(1, 7)]
    + [f"scenetext_segmented_word0{i}.jpg" for i in range(1, 6)] + [f"scenetext_word0{i}.jpg" for i in range(2, 5)],
    f"{_OPENCV}/hfs/data": ["000.jpg", "001.jpg", "002.jpg"],
    f"{_OPENCV}/reg": ["LR_05.png", "LR_06.png", "home.png"],
    f"{_OPENCV}/alphamat/input_images": ["plant.jpg"],
    f"{_OPENCV}/dnn_superres": ["butterfly.png"],
}
# plasma-workspace-wallpapers' photographs (the others are drawn or rendered).
WALLPAPERS = ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey", "Kite",
              "OneStandsOut", "Path", "summer_1am")
