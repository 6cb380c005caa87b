"""Several processes of one launcher: who this process is, the process group, rank-0 duties.

`torchrun --nproc_per_node N` and `accelerate launch` start N copies of the same command and tell
each its place through environment variables: WORLD_SIZE (how many processes), RANK (this one,
0..WORLD_SIZE-1), LOCAL_RANK (this one on its machine) and MASTER_ADDR/MASTER_PORT (where they
meet). Without them (a plain `stancetag ...`) everything here is a no-op and stancetag runs as the
single process it always was.

Collectives block until every process reaches them, so the rule throughout is: every process
takes the same decisions from the same data (early stopping is decided on rank 0 and broadcast),
and every process runs the same number of steps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from typing import TypeVar

import torch
import torch.distributed as dist
from accelerate import PartialState
from accelerate.utils import broadcast_object_list, gather_object, reduce

from stancetag.errors import UserError
from stancetag.launch import Launch

T = TypeVar("T")

# A process that fails is torn down by its launcher together with the others, so the timeout only
# has to outlast the slowest process: rank 0 evaluating and checkpointing while the others wait,
# or the last shard of a long `predict` still being tagged while the others wait for the merge.
TIMEOUT = timedelta(hours=24)


def place_on_gpu(launch: Launch, device: torch.device, *, one_per_process: bool) -> torch.device:
    """This process's GPU: LOCAL_RANK picks one of the machine's GPUs.

    Training (NCCL) needs one GPU per process; `predict` may run more processes than GPUs (they
    then share GPUs round-robin), which keeps a GPU busy while several CPUs split sentences.
    """
    if device.type != "cuda" or not launch.distributed:
        return device
    count = torch.cuda.device_count()
    if one_per_process and launch.local_rank >= count:
        raise UserError(
            f"LOCAL_RANK {launch.local_rank}: this machine has {count} GPU(s) and training needs one per "
            f"process; start at most {count} process(es) per machine (--nproc_per_node {count})"
        )
    index = launch.local_rank % count
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


@contextlib.contextmanager
def process_group(launch: Launch, backend: str) -> Iterator[None]:
    """Join the launch's process group for the duration of a command (nothing for one process).

    The rendezvous is torchrun's `env://` (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE). A group
    someone else already created (a caller's own script) is used and left alone.
    """
    if not launch.distributed:
        yield
        return
    if not dist.is_available():
        raise UserError("WORLD_SIZE > 1 but this torch build has no torch.distributed; run one process")
    if dist.is_initialized():
        yield
        return
    try:
        # accelerate joins the launcher's rendezvous (torchrun's or its own environment variables)
        PartialState(cpu=backend == "gloo", backend=backend, timeout=TIMEOUT)
    except (ValueError, RuntimeError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError(
            f"WORLD_SIZE={launch.world_size}: could not join the other processes ({first}); "
            "start the command with torchrun --nproc_per_node N or accelerate launch"
        ) from err
    try:
        yield
    finally:
        PartialState().destroy_process_group()
        PartialState._reset_state()  # accelerate keeps its state per Python process; a later command starts fresh


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def barrier() -> None:
    """Wait until every process gets here (rank 0 writing files while the others wait)."""
    if active():
        PartialState().wait_for_everyone()


def broadcast(value: T) -> T:
    """Rank 0's `value`, on every process (picklable values: decisions, metrics, histories)."""
    if not active():
        return value
    return broadcast_object_list([value], from_process=0)[0]


def gather(value: T) -> list[T] | None:
    """Every process's `value` in rank order on rank 0; None on the other ranks."""
    if not active():
        return [value]
    values = gather_object([value])
    return values if dist.get_rank() == 0 else None


def sum_across(values: list[float], device: torch.device) -> list[float]:
    """Element-wise sums over all processes (float64, so counts and sums stay exact)."""
    if not active():
        return values
    return reduce(torch.tensor(values, dtype=torch.float64, device=device), reduction="sum").tolist()


def share(items: list[T], launch: Launch) -> list[T]:
    """This process's share of `items`: every WORLD_SIZE-th one, starting at RANK.

    The list is first extended by wrapping around to a multiple of WORLD_SIZE (as torch's
    DistributedSampler does), so every process gets the same number of items: a process that ran
    out of batches early would leave the others waiting forever in the gradient all-reduce.
    """
    if not launch.distributed or not items:
        return items
    per_process = -(-len(items) // launch.world_size)
    padded = [items[i % len(items)] for i in range(per_process * launch.world_size)]
    return padded[launch.rank :: launch.world_size]
