"""`train:` — optimiser, schedule, epochs, batches and early stopping."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from pknet.specs.schema.base import SpecModel


class ScheduleSpec(SpecModel):
    """Learning-rate schedule over training steps."""

    kind: Literal["constant", "cosine", "exponential", "warmup_cosine"] = Field(
        "constant", description="Schedule shape."
    )
    warmup_epochs: int = Field(0, ge=0, description="Linear warm-up length (`warmup_cosine`).")
    decay_rate: float = Field(
        0.96, gt=0, le=1, description="Multiplier per epoch for `exponential`."
    )
    final_fraction: float = Field(
        0.0, ge=0, le=1, description="End value as a fraction of `lr` (cosine schedules)."
    )


class OptimizerBase(SpecModel):
    """Fields every optimiser has."""

    name: str = Field(description="Optimiser.")
    lr: float = Field(1e-3, gt=0, le=10, description="Learning rate.")
    schedule: ScheduleSpec = Field(
        default_factory=ScheduleSpec, description="Learning-rate schedule."
    )
    clip_norm: float | None = Field(None, gt=0, description="Clip gradients to this global norm.")


class AdamSpec(OptimizerBase):
    """Adam."""

    name: Literal["adam"] = Field("adam", description="Optimiser (the default).")


class AdamWSpec(OptimizerBase):
    """Adam with decoupled weight decay."""

    name: Literal["adamw"] = Field(description="Optimiser.")
    weight_decay: float = Field(1e-4, ge=0, description="Decoupled weight decay.")


class SgdSpec(OptimizerBase):
    """Stochastic gradient descent, optionally with (Nesterov) momentum."""

    name: Literal["sgd"] = Field(description="Optimiser.")
    momentum: float = Field(0.0, ge=0, lt=1, description="Momentum.")
    nesterov: bool = Field(False, description="Use Nesterov momentum.")


OptimizerSpec = Annotated[AdamSpec | AdamWSpec | SgdSpec, Field(discriminator="name")]


class EarlyStoppingSpec(SpecModel):
    """Stop when the monitored quantity stops improving; keep the best weights."""

    monitor: str = Field(
        "val_loss",
        pattern=r"^(train|val)_[a-z0-9_]+$",
        description="`val_loss`, `train_loss`, or `val_<metric>` for a metric in `evaluate`.",
    )
    mode: Literal["auto", "min", "max"] = Field(
        "auto", description="Whether lower or higher is better; `auto` decides from the name."
    )
    patience: int = Field(10, ge=1, description="Epochs without improvement before stopping.")
    min_delta: float = Field(0.0, ge=0, description="Smallest change that counts as improvement.")
    restore_best: bool = Field(True, description="Restore the weights of the best epoch.")


class TrainSpec(SpecModel):
    """How the model is fitted."""

    optimizer: OptimizerSpec = Field(
        default_factory=lambda: AdamSpec(name="adam"),
        description="Optimiser and learning rate; `name` defaults to `adam`.",
    )
    epochs: int = Field(100, ge=1, le=100_000, description="Maximum number of passes over data.")
    batch_size: int = Field(64, ge=1, description="Samples per gradient step.")
    validation_fraction: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="Share of each training fold held out to monitor early stopping.",
    )
    early_stopping: EarlyStoppingSpec | None = Field(
        None, description="Early stopping; leave out to train all epochs."
    )
    vmap_folds: bool = Field(True, description="Train the CV folds together with `jax.vmap`.")
    device: Literal["auto", "cpu", "gpu", "tpu"] = Field(
        "auto", description="Where to run; `auto` lets JAX choose."
    )
    devices: Literal["auto", "all"] | Annotated[int, Field(ge=1)] = Field(
        "auto",
        description="How many devices of that kind share the models trained together (seeds x "
        "folds, split along that axis): `auto`, all the local ones but no more than the models; "
        "`all`; or a number (at most the devices there are).",
    )
    deterministic: bool = Field(
        True,
        description="On a GPU, XLA's deterministic-ops mode (`--xla_gpu_deterministic_ops`): "
        "identical results run to run, somewhat slower; `false` trades it for speed. CPU runs "
        "are deterministic either way. An `XLA_FLAGS` setting of the flag wins.",
    )

    @field_validator("optimizer", mode="before", json_schema_input_type=OptimizerSpec)
    @classmethod
    def _adam_by_default(cls, value: Any) -> Any:
        """`optimizer: {lr: 0.01}` (or `--set train.optimizer.lr=0.01`) is Adam at that rate."""
        if isinstance(value, dict) and "name" not in value:
            return {"name": "adam", **value}
        return value
