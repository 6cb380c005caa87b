"""Which process of a launch this is: WORLD_SIZE, RANK and LOCAL_RANK as torchrun and `accelerate
launch` set them. Read without torch, so a single-process `predict` never imports it to find out."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from stancetag.errors import UserError


@dataclass(frozen=True)
class Launch:
    """This process's place among the processes of one launch (1 of 1 when not launched)."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launch_from_env(environ: Mapping[str, str] = os.environ) -> Launch:
    """Read WORLD_SIZE, RANK and LOCAL_RANK as set by torchrun / accelerate launch."""
    values = {}
    for name, default in (("WORLD_SIZE", 1), ("RANK", 0), ("LOCAL_RANK", None)):
        raw = environ.get(name)
        try:
            values[name] = default if raw in (None, "") else int(raw)
        except ValueError:
            raise UserError(f"environment variable {name}={raw!r}: expected a whole number; unset it") from None
    world, rank = values["WORLD_SIZE"], values["RANK"]
    local = rank if values["LOCAL_RANK"] is None else values["LOCAL_RANK"]
    if world < 1 or not 0 <= rank < world or local < 0:
        raise UserError(
            f"environment: RANK={rank} of WORLD_SIZE={world} (LOCAL_RANK={local}) is not a valid place; "
            "start several processes with torchrun or accelerate launch, or unset these variables"
        )
    return Launch(world, rank, local)


def is_main_process() -> bool:
    """True for a single process and for rank 0 of a launch: the one that logs and writes."""
    try:
        return launch_from_env().is_main
    except UserError:
        return True  # the command itself reports the bad variables
