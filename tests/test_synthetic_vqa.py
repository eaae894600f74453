"""camlib.data.synthetic.SortOfClevr: answers agree with the scene, masks with the pixels."""

from __future__ import annotations

import pytest
import torch

from camlib.data.synthetic import ANSWERS, QUESTION_WORDS, SortOfClevr, bag_of_words
from camlib.data.synthetic.common import mask_box
from camlib.data.synthetic.vqa import COLOURS, QUESTION_TYPES

N = 120


@pytest.fixture(scope="module")
def items():
    data = SortOfClevr(N, seed=3)
    return [data[i] for i in range(N)]


def _queried(item):
    colour = next(c for c in COLOURS if f" {c} object" in item.question)
    return next(o for o in item.objects if o.colour == colour)


def test_deterministic(items):
    again = SortOfClevr(N, seed=3)
    assert all(torch.equal(again[i].image, items[i].image) and again[i].question == items[i].question for i in (0, 9))


def test_every_question_type_and_many_answers_occur(items):
    assert {item.question_type for item in items} == set(range(len(QUESTION_TYPES)))
    assert len({item.answer for item in items}) >= 12


def test_answers_agree_with_the_scene(items):
    for item in items:
        kind, answer, target = QUESTION_TYPES[item.question_type], ANSWERS[item.answer], _queried(item)
        if kind == "shape":
            assert answer == target.shape
        elif kind == "count":
            assert int(answer) == sum(o.shape == target.shape for o in item.objects)
        elif kind == "left":
            assert answer == ("left" if target.x < 31.5 else "right")
        elif kind == "top":
            assert answer == ("top" if target.y < 31.5 else "bottom")
        else:
            others = [o for o in item.objects if o is not target]
            distance = {o.colour: (o.x - target.x) ** 2 + (o.y - target.y) ** 2 for o in others}
            assert answer == min(distance, key=distance.get)


def test_the_mask_is_the_answering_object_in_its_colour(items):
    for item in items:
        kind = QUESTION_TYPES[item.question_type]
        shown = _queried(item)
        if kind == "nearest":
            shown = next(o for o in item.objects if o.colour == ANSWERS[item.answer])
        assert item.mask.sum() > 10
        assert tuple(item.boxes[0].tolist()) == mask_box(item.mask.numpy()) == shown.box
        pixels = item.image[:, item.mask]  # (3, n): every pixel of the mask has the object's colour
        expected = (torch.tensor(COLOURS[shown.colour]) * 255).round() / 255
        assert torch.allclose(pixels, expected[:, None].expand_as(pixels))


def test_objects_have_distinct_colours_and_do_not_touch(items):
    for item in items:
        assert len({o.colour for o in item.objects}) == len(item.objects) == 6
        boxes = [o.box for o in item.objects]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1]


def test_bag_of_words():
    bow = bag_of_words(["what shape is the red object?", "is the red object on the left or on the right?"])
    assert bow.shape == (2, len(QUESTION_WORDS))
    assert bow[1, QUESTION_WORDS.index("on")] == 2 and bow[1, QUESTION_WORDS.index("shape")] == 0
    with pytest.raises(ValueError, match=r"`questions\[0\]` has the word 'purple'"):
        bag_of_words(["what shape is the purple object?"])


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"`num_objects` must be an int >= 1 and <= 6, but got 7"):
        SortOfClevr(2, seed=0, num_objects=7)
    with pytest.raises(TypeError, match=r"`size` must be an int, but got str"):
        SortOfClevr("2", seed=0)


def test_every_question_is_in_the_vocabulary(items):
    bow = bag_of_words([item.question for item in items])
    assert (bow.sum(1) == torch.tensor([len(item.question.split()) for item in items], dtype=torch.float)).all()


def test_one_object_images_ask_only_what_the_image_answers():
    from camlib.data.synthetic.vqa import ANSWERS, QUESTION_TYPES, SINGLE_TYPES

    data = SortOfClevr(60, seed=4, num_objects=1)
    kinds = set()
    for i in range(len(data)):
        item = data[i]
        (obj,) = item.objects
        kind = QUESTION_TYPES[item.question_type]
        kinds.add(kind)
        assert kind in SINGLE_TYPES and obj.colour in item.question
        middle = (data.image_size - 1) / 2
        expected = {
            "shape": obj.shape,
            "left": "left" if obj.x < middle else "right",
            "top": "top" if obj.y < middle else "bottom",
        }[kind]
        assert ANSWERS[item.answer] == expected
        assert item.boxes.tolist() == [list(obj.box)] and item.mask.any()
    assert kinds == set(SINGLE_TYPES)
    # more objects: the same draws as before the one-object mode existed (the question types are unchanged)
    assert SortOfClevr(10, seed=0)[1].question == "how many objects have the shape of the orange object?"
