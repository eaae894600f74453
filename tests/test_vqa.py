"""camlib.study.vqa: the VQA baseline's score split and exact answer maps, the one-sided baselines, training with early
stopping and caching, the queried object and the swapped question."""

from __future__ import annotations

import pytest
import torch

from camlib.data.synthetic import SortOfClevr
from camlib.data.synthetic.vqa import ANSWERS, COLOURS, QUESTION_TYPES, QUESTION_WORDS
from camlib.study.vqa import VQABaseline, fit_vqa, queried_boxes, swap_question, vqa_tensors

SMALL = {"image_size": 32, "resolution": 4, "channels": 4}


def test_the_answer_map_is_exact_and_splits_the_score():
    torch.manual_seed(0)
    net = VQABaseline(num_answers=len(ANSWERS), vocabulary=len(QUESTION_WORDS), **SMALL).eval()
    data = vqa_tensors([SortOfClevr(6, seed=0, image_size=32)[i] for i in range(6)])
    image, question, maps = net.parts(data.images, data.questions)
    logits = net(data.images, data.questions)
    torch.testing.assert_close(logits, image + question + net.bias)
    answers = logits.argmax(1)
    cams = net.cams(data.images, data.questions, answers)
    torch.testing.assert_close(cams.mean(dim=(1, 2)), image[torch.arange(6), answers], rtol=1e-5, atol=1e-6)
    # by hand: the weighted sum of the feature maps with the answer's image weights
    w = net.image_fc.weight[answers[0]]
    torch.testing.assert_close(cams[0], sum(w[k] * maps[0, k] for k in range(maps.shape[1])), rtol=1e-5, atol=1e-6)
    # the question part is the bag of words times the question weights, and does not touch the map
    torch.testing.assert_close(question, data.questions @ net.question_fc.weight.T)
    other = net.cams(data.images, torch.zeros_like(data.questions), answers)
    torch.testing.assert_close(other, cams)


def test_one_sided_baselines_ignore_the_other_input():
    x, q = torch.rand(3, 3, 32, 32), torch.rand(3, 5)
    image_only = VQABaseline(num_answers=4, vocabulary=5, inputs="image", **SMALL).eval()
    question_only = VQABaseline(num_answers=4, vocabulary=5, inputs="question", **SMALL).eval()
    torch.testing.assert_close(image_only(x, q), image_only(x, torch.rand(3, 5)))
    torch.testing.assert_close(question_only(x, q), question_only(torch.rand(3, 3, 32, 32), q))
    with pytest.raises(ValueError, match="question-only model has no class activation map"):
        question_only.cams(x, q, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"`inputs` must be one of \('both', 'image', 'question'\), but got 'text'"):
        VQABaseline(num_answers=4, vocabulary=5, inputs="text")


def test_queried_boxes_and_swapped_questions():
    data = SortOfClevr(40, seed=3, image_size=48)
    items = [data[i] for i in range(40)]
    boxes = queried_boxes(items)
    for it, box in zip(items, boxes.tolist()):
        colour = next(c for c in COLOURS if f" {c} " in it.question)
        assert tuple(box) == next(o.box for o in it.objects if o.colour == colour)
        if QUESTION_TYPES[it.question_type] != "nearest":  # the answer is read from the queried object itself
            assert box == it.boxes[0].tolist()
        swapped = swap_question(it, data)
        new = next(o for o in it.objects if o.box == swapped.queried)
        assert new.colour in swapped.question and colour not in swapped.question
        assert ANSWERS[swapped.answer] == data.answer(QUESTION_TYPES[it.question_type], new, it.objects)[0]
    with pytest.raises(ValueError, match=r"must name exactly one object of its scene by colour"):
        queried_boxes([items[0]._replace(question="what shape is the object?")])


def test_training_learns_stops_early_keeps_the_best_and_is_cached(tmp_path):
    train, val = SortOfClevr(96, seed=0, image_size=32), SortOfClevr(32, seed=2, image_size=32)
    kwargs = {"epochs": 6, "patience": 2, "lr": 3e-3, "batch_size": 32, "model": SMALL, "cache_root": tmp_path}
    net, history = fit_vqa(train, val, **kwargs)
    assert [h["epoch"] for h in history] == list(range(len(history))) and 1 <= len(history) <= 6
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    from camlib.study.training import best_epoch

    kept = best_epoch(history, min_delta=0.01)
    data = vqa_tensors([val[i] for i in range(len(val))])
    with torch.no_grad():
        accuracy = (net(data.images, data.questions).argmax(1) == data.answers).double().mean().item()
    assert accuracy == pytest.approx(history[kept]["val_accuracy"])  # the kept epoch's weights
    again, history_again = fit_vqa(train, val, **kwargs)  # read back from the cache
    assert history_again == history and len(list(tmp_path.glob("*.pt"))) == 1
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))
    _, other = fit_vqa(train, val, **{**kwargs, "inputs": "question"})
    assert len(list(tmp_path.glob("*.pt"))) == 2 and other != history
    with pytest.raises(ValueError, match=r"`epochs` must be a positive int, but got 0"):
        fit_vqa(train, val, **{**kwargs, "epochs": 0})


def test_scores_point_by_hand_and_tuning_picks_the_best_rate(tmp_path):
    from camlib.study.vqa import score_vqa, tune_vqa

    data = SortOfClevr(12, seed=5, image_size=32)
    items = [data[i] for i in range(12)]
    torch.manual_seed(0)
    net = VQABaseline(num_answers=len(ANSWERS), vocabulary=len(QUESTION_WORDS), **SMALL).eval()
    s = score_vqa(net, items, batch_size=5)
    t = vqa_tensors(items)
    with torch.no_grad():
        predicted = net(t.images, t.questions).argmax(1)
        maps = net.cams(t.images, t.questions, predicted)
    assert torch.equal(s.predicted, predicted) and s.correct.tolist() == (predicted == t.answers).double().tolist()
    up = torch.nn.functional.interpolate(maps[:, None], size=(32, 32), mode="bilinear")[:, 0]
    torch.testing.assert_close(s.maps, up)
    boxes = queried_boxes(items)
    for i in range(12):
        y, x = divmod(int(up[i].argmax()), 32)
        x1, y1, x2, y2 = boxes[i].tolist()
        assert s.on_queried[i] == float(x1 <= x <= x2 and y1 <= y <= y2)
        a1, b1, a2, b2 = items[i].boxes[0].tolist()
        assert s.on_answer[i] == float(a1 <= x <= a2 and b1 <= y <= b2)
    question_only = VQABaseline(num_answers=len(ANSWERS), vocabulary=len(QUESTION_WORDS), inputs="question", **SMALL)
    q = score_vqa(question_only, items)
    assert q.maps is None and q.on_queried.isnan().all()
    train, val = SortOfClevr(64, seed=0, image_size=32), SortOfClevr(16, seed=2, image_size=32)
    kwargs = {"epochs": 2, "patience": 0, "batch_size": 32, "model": SMALL, "cache_root": tmp_path}
    lr, _, history = tune_vqa(train, val, [1e-4, 3e-3], **kwargs)
    scores = {r: fit_vqa(train, val, lr=r, **kwargs)[1][-1]["val_accuracy"] for r in (1e-4, 3e-3)}
    assert lr == max(scores, key=lambda r: (scores[r], -r)) and history[-1]["val_accuracy"] == scores[lr]


def test_tune_vqa_reads_the_kept_epoch_with_fit_vqas_defaults(monkeypatch):
    import functools
    import inspect

    from camlib.study import vqa as V

    real = V.fit_vqa
    script = {0.1: [0.5, 0.8, 0.805, 0.79], 0.01: [0.5, 0.803, 0.78]}
    calls = []

    @functools.wraps(real)  # the signature (and its defaults) stays fit_vqa's
    def fake(train, val, *, lr, **kwargs):
        calls.append((lr, kwargs))
        return f"net {lr}", [{"epoch": e, "val_accuracy": a} for e, a in enumerate(script[lr])]

    monkeypatch.setattr(V, "fit_vqa", fake)
    defaults = inspect.signature(real).parameters
    assert (defaults["patience"].default, defaults["min_delta"].default) == (5, 0.01)
    # fit_vqa's defaults: kept epochs 1 and 1 (0.805 is within 0.01 of 0.8): 0.8 against 0.803
    assert V.tune_vqa(None, None, [0.1, 0.01]) == (
        0.01,
        "net 0.01",
        [{"epoch": e, "val_accuracy": a} for e, a in enumerate(script[0.01])],
    )
    assert calls == [(0.1, {}), (0.01, {})]  # nothing added to what fit_vqa is given
    assert V.tune_vqa(None, None, [0.1, 0.01], min_delta=0.0)[0] == 0.1  # kept epoch 2 of 0.1: 0.805
    assert V.tune_vqa(None, None, [0.1, 0.01], patience=0)[0] == 0.1  # the last epochs: 0.79 against 0.78
    # the defaults are read from fit_vqa's signature, not typed again: change them and the choice follows
    monkeypatch.setitem(real.__kwdefaults__, "patience", 0)
    assert V.tune_vqa(None, None, [0.1, 0.01])[0] == 0.1
    with pytest.raises(ValueError, match=r"`lrs` must be one or more positive learning rates, but got \[\]"):
        V.tune_vqa(None, None, [])


def test_prior_hits_against_counting_by_hand():
    from camlib.study.vqa import prior_hits

    train = [SortOfClevr(200, seed=0, image_size=32)[i] for i in range(200)]
    items = [SortOfClevr(50, seed=1, image_size=32)[i] for i in range(50)]
    hits = prior_hits(train, items)
    for it, h in zip(items, hits.tolist()):
        answers = [t.answer for t in train if t.question_type == it.question_type]
        top = max(set(answers), key=lambda a: (answers.count(a), -a))
        assert h == float(it.answer == top)
    assert 0 < hits.mean() < 1
