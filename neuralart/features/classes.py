"""The 1000 ImageNet classes by name: "goldfish" is class 1, "junco" 13, "volcano" 980.

The names ship as data beside this module (imagenet_classes.tsv, whose header says where they come from). A class
is found by its name, any of its WordNet lemmas that names no other class ("snowbird" is the junco), or its index;
a name that is close to a real one gets a suggestion.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import numbers
from pathlib import Path

CLASSES_FILE = Path(__file__).with_name("imagenet_classes.tsv")
IMAGENET_CLASS_COUNT = 1000


@dataclasses.dataclass(frozen=True)
class ImagenetClasses:
    """names[k]: class k's name; wordnet_ids[k]: its WordNet id; lookup: every accepted spelling (lower case,
    spaces for underscores) -> index."""

    names: tuple[str, ...]
    wordnet_ids: tuple[str, ...]
    lookup: dict

    def __post_init__(self) -> None:
        if len(self.names) != IMAGENET_CLASS_COUNT:
            raise ValueError(f"{CLASSES_FILE} lists {len(self.names)} classes, not {IMAGENET_CLASS_COUNT}")


@functools.cache
def imagenet_classes() -> ImagenetClasses:
    """The class list, read once (it never changes while the program runs)."""
    names, wordnet_ids, lemmas = [], [], []
    for line in CLASSES_FILE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            wordnet_id, name, synonyms = line.split("\t")
            wordnet_ids.append(wordnet_id)
            names.append(name)
            lemmas.append([lemma.strip() for lemma in synonyms.split(",")])
    lookup: dict[str, int] = {}
    # Lemmas naming two classes ("crane") are left out; names always win over lemmas.
    seen: dict[str, set[int]] = {}
    for index, synonyms in enumerate(lemmas):
        for lemma in synonyms:
            seen.setdefault(spelling(lemma), set()).add(index)
    lookup.update({key: next(iter(indices)) for key, indices in seen.items() if len(indices) == 1})
    lookup.update({spelling(name): index for index, name in enumerate(names)})
    return ImagenetClasses(tuple(names), tuple(wordnet_ids), lookup)


def spelling(text: str) -> str:
    """The form names are compared in: lower case, underscores as spaces, single spaces."""
    return " ".join(text.replace("_", " ").lower().split())


def class_names() -> tuple[str, ...]:
    """The 1000 names, class 0 first."""
    return imagenet_classes().names


def class_name(index: int) -> str:
    """The name of ImageNet class `index` ("class 1234" for an index beyond the 1000, as custom heads have)."""
    names = class_names()
    return names[index] if 0 <= index < len(names) else f"class {index}"


def class_index(text) -> int:
    """The index of a class given by name, lemma or index ("goldfish", "Carassius auratus", "1" or 1); a
    ValueError suggests the closest names when there is no such class."""
    if isinstance(text, numbers.Integral) and not isinstance(text, bool):
        return int(text)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"a class is a name such as 'goldfish' or an index such as 1, got {text!r}")
    if text.strip().isdigit():
        return int(text.strip())
    key = spelling(text)
    lookup = imagenet_classes().lookup
    if key in lookup:
        return lookup[key]
    raise ValueError(f"no ImageNet class is called {text.strip()!r}{suggestion(key)}")


def suggestion(key: str) -> str:
    """'; did you mean ...?' naming the closest class names to `key`, or '' when none is close."""
    close = difflib.get_close_matches(key, list(imagenet_classes().lookup), n=3, cutoff=0.75)
    if not close:
        return ""
    indices = list(dict.fromkeys(imagenet_classes().lookup[match] for match in close))
    return "; did you mean " + " or ".join(f"'{class_name(index)}' ({index})" for index in indices) + "?"


def class_choices() -> list[tuple[str, int]]:
    """(label, index) for a searchable list: "goldfish (1)", in index order."""
    return [(f"{name} ({index})", index) for index, name in enumerate(class_names())]
