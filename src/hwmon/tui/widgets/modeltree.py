"""The model summary: the printed module tree as a Textual ``Tree``."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from hwmon.events import ModuleNode
from hwmon.tui import view

ARGS_WIDTH = 60
EXPAND_ALL_BELOW = 40


def _label(node: ModuleNode, top: bool) -> Text:
    # Labels are Text, never str: Tree parses a str label as markup, and these come from the log.
    label = Text(no_wrap=True, overflow="ellipsis")
    if node.name and not top:
        label.append(f"({view.safe_text(node.name)}) ", style="dim")
    label.append(view.safe_text(node.type) or "?", style="bold")
    if node.args:
        args = view.safe_text(node.args)
        if len(args) > ARGS_WIDTH:
            args = args[: ARGS_WIDTH - 1] + "…"
        label.append(f"({args})")
    if top:
        label.append(f"  {node.count()} modules", style="dim")
    return label


class ModelTree(Tree[ModuleNode]):
    """Layer types and their arguments. Only the top levels start expanded (the root, and its children when the
    whole model is small), so a 300-module transformer does not push everything else off screen."""

    ALLOW_MAXIMIZE = True  # z maximises the pane

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Text("no model summary in the log yet", style="dim"), id=id)
        self._model: ModuleNode | None = None

    @property
    def model(self) -> ModuleNode | None:
        return self._model

    def show_model(self, model: ModuleNode | None) -> None:
        """Rebuild the tree when the model changed (identity check: the reducer replaces it, never mutates)."""
        if model is self._model or model is None:
            return
        self._model = model
        self.clear()
        self.root.set_label(_label(model, top=True))
        self.root.data = model
        expand_children = model.count() <= EXPAND_ALL_BELOW
        for child in model.children:
            self._add(self.root, child, expand=expand_children)
        self.root.expand()

    def _add(self, parent: TreeNode[ModuleNode], node: ModuleNode, *, expand: bool) -> None:
        if not node.children:
            parent.add_leaf(_label(node, top=False), data=node)
            return
        branch = parent.add(_label(node, top=False), data=node, expand=expand)
        for child in node.children:
            self._add(branch, child, expand=False)
