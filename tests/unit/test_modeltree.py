"""ModelTreeParser: printed nn.Module trees, glued roots, repeats, cut trees, look-alikes that are not trees."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.chunking import assert_chunking_invariant, parse_with

from hwmon.events import Event, ModelSummary, ModuleNode
from hwmon.parsers.modeltree import ModelTreeParser

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"


def trees(data: bytes) -> list[ModelSummary]:
    return [e for e in parse_with(ModelTreeParser, [data]) if isinstance(e, ModelSummary)]


def test_fixture_tree_with_root_glued_on_both_sides() -> None:
    events = assert_chunking_invariant(
        lambda chunks: parse_with(ModelTreeParser, chunks), (FIXTURES / "modeltree_glued.log").read_bytes()
    )
    summaries = [e for e in events if isinstance(e, ModelSummary)]
    assert len(summaries) == 1  # the JSON-ish config and the Python call after it are not trees
    (summary,) = summaries
    root = summary.root
    assert summary.line == 2
    assert (root.name, root.type) == ("", "ResNetWithHead")
    assert [c.name for c in root.children] == ["backbone", "layers", "head"]
    backbone, layers, head = root.children
    assert [c.type for c in backbone.children] == ["Conv2d", "BatchNorm2d", "ReLU"]
    assert backbone.children[0].args == "3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False"
    assert backbone.children[2].args == "inplace=True"
    # "(0-3): 4 x ResidualUnit(" expands to four units named 0..3, each with its two children.
    assert [c.name for c in layers.children] == ["0", "1", "2", "3"]
    assert all(c.type == "ResidualUnit" and len(c.children) == 2 for c in layers.children)
    assert head == ModuleNode("head", "Linear", "in_features=16, out_features=10, bias=True")
    # root + backbone(1+3) + layers(1 + 4 * 3) + head
    assert root.count() == 1 + 4 + 13 + 1


def test_clean_root_and_one_line_modules() -> None:
    data = b"Net(\n  (fc1): Linear(in_features=4, out_features=2, bias=True)\n  (act): ReLU()\n)\nafter\n"
    (summary,) = trees(data)
    assert summary.root.type == "Net"
    assert [(c.name, c.type, c.args) for c in summary.root.children] == [
        ("fc1", "Linear", "in_features=4, out_features=2, bias=True"),
        ("act", "ReLU", ""),
    ]


def test_event_arrives_with_the_closing_paren() -> None:
    parser = ModelTreeParser()
    from hwmon.parsers.base import Line

    lines = ["Net(", "  (a): ReLU()", ")"]
    out: list[Event] = []
    for number, text in enumerate(lines, 1):
        got = parser.feed(Line(number, 0, text))
        if number < 3:
            assert got == []
        out.extend(got)
    assert len(out) == 1 and parser.finish() == []


def test_cut_tree_is_emitted_at_finish() -> None:
    data = b"Big(\n  (enc): Encoder(\n    (l0): Linear(in_features=1, out_features=1, bias=True)\n"
    (summary,) = trees(data)
    assert summary.root.type == "Big"
    (enc,) = summary.root.children
    assert enc.type == "Encoder" and [c.name for c in enc.children] == ["l0"]


def test_tree_interrupted_by_unrelated_output_is_emitted_with_what_was_seen() -> None:
    data = b"M(\n  (a): ReLU()\nINFO one\nINFO two\nINFO three\nINFO four\n  (b): ReLU()\n)\n"
    (summary,) = trees(data)
    assert [c.name for c in summary.root.children] == ["a"]


def test_extra_repr_lines_become_args() -> None:
    data = b"Custom(\n  hidden=64, depth=2\n  (proj): Identity()\n)\n"
    (summary,) = trees(data)
    assert summary.root.args == "hidden=64, depth=2"
    assert summary.root.children == (ModuleNode("proj", "Identity"),)


@pytest.mark.parametrize(
    "data",
    [
        b'{\n  "model": {\n    "layers": 2\n  }\n}\n',
        b"print(\n  (x): 1\n)\n",  # no CamelCase root
        b"Loss(\n  x = 3\n)\n",  # no (name): Type( child
        b"  (a): ReLU()\n)\n",  # a child with no root line above it
    ],
)
def test_not_a_tree(data: bytes) -> None:
    assert trees(data) == []


def test_two_trees_give_two_events() -> None:
    one = b"A(\n  (x): ReLU()\n)\n"
    assert [s.root.type for s in trees(one + b"between\n" + one.replace(b"A(", b"B("))] == ["A", "B"]


def test_garbage_does_not_raise() -> None:
    data = b"X(\n" + b"  (a): B(\n" * 200 + b")\n" * 300 + b"\x00\xff((((\n"
    events = parse_with(ModelTreeParser, [data])
    assert all(isinstance(e, ModelSummary) for e in events)


@pytest.mark.parametrize("name", ["seed/graphcore_mnist_hw7.log", "corpus/graphcore_sdk3.3_mnist_poptorch_srun.log"])
def test_shared_mnist_logs_give_training_model_with_loss(name: str) -> None:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"{path} not available")
    (summary,) = trees(path.read_bytes())
    assert summary.root.type == "TrainingModelWithLoss"
    assert [c.name for c in summary.root.children] == ["model", "loss"]
    assert summary.root.count() == 16
