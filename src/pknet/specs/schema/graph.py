"""`model.graph:` — the graph that `gcn` and `gat` layers pass messages over, joined on `kind`.

A graph over **samples** makes every sample (cell) a node: the model reads all samples at once
and its layers act on their features along the graph (transductive learning, as in GCN cell-type
classifiers). The graph is built per cross-validation fold from that fold's inputs (after the
fold's statistics): training rows are linked among themselves only, and every other row
(validation, test) receives edges from training rows only, so held-out rows never influence the
training rows' predictions, nor each other's.

A graph over the **network** (`kind: network`) makes every node of the spec's `network` a graph
node and each sample a signal on it (one feature per node: its data value). The model reads one
sample at a time (inductive), so it trains in minibatches like a `dense` or `kpnn` model.

A `knn` or `cosine` graph over **features** (`over: features`) makes every input feature (data
column) a node, linked to the features it resembles across samples, and reads one sample at a
time like a `network` graph. No labels are used, so it is built once, before the folds, from all
samples' model inputs (every column's values over every sample, before the folds' statistics).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from pknet.rules import rule_error
from pknet.specs.schema.base import SpecModel


class SampleGraphSpecBase(SpecModel):
    """Fields every graph built from the data (over samples or over features) has."""

    kind: str = Field(description="Graph kind.")
    over: Literal["samples", "features"] = Field(
        "samples",
        description="What the graph's nodes are: `samples` (one node per sample, built per fold "
        "from that fold's inputs) or `features` (one node per input feature, built once from "
        "the columns of all samples' model inputs; no labels are used).",
    )
    pca: int | None = Field(
        None,
        ge=1,
        description="Over samples only: build the graph on this many principal components of "
        "the inputs (fitted on each fold's training rows) instead of on the inputs themselves.",
    )
    readout: Literal["mean", "max"] | None = Field(
        None,
        description="Over features only: how the last graph layer's node features become one "
        "vector per sample, `mean` (the default) or `max` over all features.",
    )

    @model_validator(mode="after")
    def check_over(self) -> SampleGraphSpecBase:
        """`pca` is for graphs over samples, `readout` for graphs over features."""
        if self.over == "features" and self.pca is not None:
            raise rule_error(
                ("pca",),
                "`pca` projects samples; a graph over features is built on the columns",
                "remove `pca`, or use `over: samples`",
            )
        if self.over == "samples" and self.readout is not None:
            raise rule_error(
                ("readout",),
                "`readout` pools feature nodes; a graph over samples has one node per sample",
                "remove `readout`, or use `over: features`",
            )
        return self

    @property
    def pooling(self) -> Literal["mean", "max"]:
        """The readout of a graph over features (`mean` unless set)."""
        return self.readout or "mean"


class KnnGraphSpec(SampleGraphSpecBase):
    """Over samples: each training row receives edges from its `k` nearest other training rows,
    every other row from its `k` nearest training rows. Over features: each feature is linked
    both ways with its `k` nearest other features."""

    kind: Literal["knn"] = Field(description="Graph kind.")
    k: int = Field(15, ge=1, le=1000, description="Neighbours each node receives edges from.")
    metric: Literal["euclidean", "cosine"] = Field(
        "euclidean", description="Distance that ranks the neighbours."
    )


class CosineGraphSpec(SampleGraphSpecBase):
    """Over samples: edges between rows whose cosine similarity reaches `threshold`, both ways
    between training rows and from training rows into every other row. Over features: both ways
    between features whose columns' cosine similarity reaches `threshold`."""

    kind: Literal["cosine"] = Field(description="Graph kind.")
    threshold: float = Field(
        ge=-1, le=1, description="Smallest cosine similarity that makes an edge."
    )


class NetworkGraphSpec(SpecModel):
    """The spec's network as the graph: its nodes are the network's nodes after compiling, each
    fed its data value, and messages pass along its edges; then a readout gives one vector per
    sample. Every node must be measured (an input node with a data column)."""

    kind: Literal["network"] = Field(description="Graph kind.")
    symmetric: bool = Field(
        True,
        description="Pass messages both ways along each edge; `false`: only in the edge's "
        "direction (`from` -> `to`).",
    )
    readout: Literal["mean", "max", "outputs"] = Field(
        "mean",
        description="How the last graph layer's node features become one vector per sample: "
        "`mean` or `max` over all nodes, or `outputs` (the features of the `network.outputs` "
        "nodes, concatenated in their order).",
    )


SampleGraphSpec = KnnGraphSpec | CosineGraphSpec
GraphSpec = Annotated[SampleGraphSpec | NetworkGraphSpec, Field(discriminator="kind")]
