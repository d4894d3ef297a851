"""What happened to the user's images on their way into the model, said in words: grey images
given to a colour model (and colour to a grey one), alpha channels dropped, images of another
aspect ratio squashed, cropped or padded. Image folders count what they read
(:class:`ImagesSeen`); named data sets say what they are; :func:`input_notes` turns both into
the lines convert, verify and run print."""

from __future__ import annotations

from dataclasses import dataclass, field

# what the built-in sets hold: their channels and whether their images are square
NAMED_SETS = {"digits": 1, "mnist": 1, "fashion_mnist": 1, "photos": 3}


@dataclass
class ImagesSeen:
    """Counts of the image files read from a folder: grey, colour, with alpha, and those whose
    aspect ratio is not the model's (with the first such size)."""

    grey: int = 0
    colour: int = 0
    alpha: int = 0
    other_aspect: int = 0
    example_size: list = field(default_factory=list)

    def count(self, image, size: tuple[int, int]) -> None:
        """Count one PIL image about to be fitted to ``size`` (height, width)."""
        bands = image.getbands()
        alpha = "A" in bands or (image.mode == "P" and "transparency" in image.info)
        grey = image.mode in ("1", "L", "LA", "I", "I;16", "F") or \
            (image.mode == "P" and all(r == g == b for r, g, b in _palette(image)))
        self.alpha += int(alpha)
        self.grey += int(grey)
        self.colour += int(not grey)
        if image.width * size[0] != image.height * size[1]:
            self.other_aspect += 1
            self.example_size = self.example_size or [image.height, image.width]

    def as_dict(self) -> dict:
        """Plain-JSON form, for a data set's description."""
        return {"grey": self.grey, "colour": self.colour, "alpha": self.alpha,
                "other_aspect": self.other_aspect, "example_size": self.example_size}


def _palette(image) -> list[tuple[int, int, int]]:
    values = image.getpalette() or []
    return [tuple(values[i:i + 3]) for i in range(0, len(values) - 2, 3)]


def input_notes(name: str, description: dict, preprocessing) -> list[str]:
    """The lines that say how the images of data set ``name`` (its ``description``) were changed
    to fit ``preprocessing``'s model input: channels, alpha and aspect ratio."""
    seen = description.get("seen")
    model_colour = preprocessing.channels == 3
    notes = []
    if seen is None:  # a built-in set
        channels = NAMED_SETS.get(name)
        if channels == 1 and model_colour:
            notes.append(f"'{name}' is grey and the model takes colour: each grey value is "
                         "repeated in R, G and B")
        elif channels == 3 and not model_colour:
            notes.append(f"'{name}' is in colour and the model takes grey: each pixel becomes "
                         "its BT.601 luma (0.299 R + 0.587 G + 0.114 B)")
        return notes
    total = seen["grey"] + seen["colour"]
    if model_colour and seen["grey"]:
        notes.append(f"{seen['grey']} of the {total} images are grey and the model takes colour: "
                     "each grey value is repeated in R, G and B")
    if not model_colour and seen["colour"]:
        notes.append(f"{seen['colour']} of the {total} images are in colour and the model takes "
                     "grey: each pixel becomes its BT.601 luma (0.299 R + 0.587 G + 0.114 B)")
    if seen["alpha"]:
        notes.append(f"{seen['alpha']} of the {total} images have an alpha channel: dropped (the "
                     "colours are used as stored, not blended onto a background)")
    if seen["other_aspect"]:
        height, width = seen["example_size"]
        how = {"squash": "squashed to it (--resize crop or pad keeps their shape)",
               "crop": "centre-cropped to the model's aspect, then resized (--resize crop)",
               "pad": "padded with black to the model's aspect, then resized (--resize pad)"}
        notes.append(f"{seen['other_aspect']} of the {total} images are not the model's aspect "
                     f"ratio (e.g. {width}x{height} for {preprocessing.width}x"
                     f"{preprocessing.height}): {how[preprocessing.fit]}")
    return notes
