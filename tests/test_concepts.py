"""camlib.concepts: weak labels from captions, by hand, and the synonym table against COCO's categories."""

from __future__ import annotations

import pytest
from conftest import requires_data

from camlib.concepts import COCO_SYNONYMS, caption_labels


def test_whole_words_plurals_and_phrases():
    captions = [["A category of things."],          # 'cat' inside a word: no
                ["Three buses and two benches."],   # plurals with -es
                ["The knives are on the table"],    # a listed irregular plural
                ["A TRAFFIC   Light at night."],    # a phrase, any case and spacing
                ["", "People watch a kitten."]]     # any of the captions
    labels = caption_labels(captions, ["cat", "bus", "bench", "knife", "traffic light", "person", "dining table"])
    assert labels.int().tolist() == [[0, 0, 0, 0, 0, 0, 0],
                                     [0, 1, 1, 0, 0, 0, 0],
                                     [0, 0, 0, 1, 0, 0, 1],
                                     [0, 0, 0, 0, 1, 0, 0],
                                     [1, 0, 0, 0, 0, 1, 0]]
    with pytest.raises(ValueError, match=r"`concepts` must be keys of `synonyms`, but got \['unicorn'\]"):
        caption_labels(captions, ["unicorn"])
    assert caption_labels([["a unicorn"]], ["horse"], {"horse": ("horse", "unicorn")}).tolist() == [[True]]


def test_the_table_names_the_80_coco_categories_and_each_name_finds_itself():
    names = list(COCO_SYNONYMS)
    assert len(names) == 80
    labels = caption_labels([[f"There is a {name} here."] for name in names], names)
    assert labels.diagonal().all()  # each category's own name is one of its words (or contains one)


@pytest.mark.realdata
@requires_data("coco-mini")
def test_on_coco_mini_the_captions_name_most_annotated_people():
    from camlib.data import COCO

    coco = COCO(split="val2017")
    assert sorted(COCO_SYNONYMS) == sorted(coco.classes)  # the table's keys are COCO's category names
    labels = caption_labels([coco.captions(i) for i in range(len(coco))], coco.classes)
    truth = [0 in coco.categories_of(i) for i in range(len(coco))]  # a person is annotated
    named = labels[:, 0].tolist()
    both = sum(a and b for a, b in zip(named, truth))
    # captions name a person in most images with an annotated person, and rarely where none is annotated
    assert both / sum(truth) > 0.5 and sum(a and not b for a, b in zip(named, truth)) <= 3


def test_the_imagenet_table_names_real_imagenet_classes():
    from camlib import imagenet_categories
    from camlib.concepts import IMAGENET_FOR_COCO

    names = imagenet_categories()
    assert set(IMAGENET_FOR_COCO) <= set(COCO_SYNONYMS) and all(0 <= k < 1000 for ks in IMAGENET_FOR_COCO.values()
                                                                  for k in ks)
    # spot checks of the indices against torchvision's ImageNet names
    assert (names[151], names[268], names[281], names[285]) == ("Chihuahua", "Mexican hairless", "tabby", "Egyptian cat")
    assert [names[k] for k in IMAGENET_FOR_COCO["airplane"]] == ["airliner", "warplane"]
    assert [names[k] for k in IMAGENET_FOR_COCO["banana"] + IMAGENET_FOR_COCO["pizza"]] == ["banana", "pizza"]
    assert names[IMAGENET_FOR_COCO["dining table"][0]] == "dining table" and names[IMAGENET_FOR_COCO["tv"][0]] == "television"
