"""`unet1d info`: parameters per block and the middle block's cost for a resolved config."""

from __future__ import annotations

from pathlib import Path

import typer

from unet1d.cli.common import ConfigFileOption, resolve_config
from unet1d.errors import UserError
from unet1d.notices import warn


def info(ctx: typer.Context, config: ConfigFileOption = None) -> None:
    """Parameters per block and in total, and the middle block's per-sample cost; of a run or checkpoint folder
    too (`unet1d info RUN`: its config.yaml, as eval and sample take RUN)."""
    from rich.console import Console
    from rich.table import Table

    from unet1d.data.representation import network_config
    from unet1d.model.summary import summarize
    from unet1d.store.checkpoint_files import CONFIG_FILE, latest_checkpoint
    from unet1d.store.rundir import run_config_damage

    args = list(ctx.args)
    if args and not args[0].startswith("-"):  # RUN: a folder holding a config.yaml
        run, args = Path(args[0]), args[1:]
        if config is not None:
            raise UserError(f"{run}: give a run folder or --config {config}, not both")
        if not run.exists():
            raise UserError(
                f"unexpected argument '{run}': no such run folder (config fields are given as --name value)"
            )
        if run.is_file():
            raise UserError(f"{run}: a file; give a run or checkpoint folder, or a config file as --config {run}")
        if not (run / CONFIG_FILE).is_file():
            raise UserError(
                f"unexpected argument '{run}': not a run or checkpoint folder (no {CONFIG_FILE} in it); config "
                "fields are given as --name value or --name=value"
            )
        config = run / CONFIG_FILE
        damage = run_config_damage(run)
        latest = latest_checkpoint(run) if damage else None
        if latest is not None:  # as compare and --resume auto read such a run
            warn(f"{damage}; the run's config is read from {latest}")
            config = latest / CONFIG_FILE
    resolved = resolve_config(config, args)
    model = network_config(resolved)  # what training builds: rot6d poses are a longer sequence
    summary = summarize(model)
    heads = f", {model.mid_num_heads} heads" if model.mid_structure == "attention" else ""
    title = f"UNet1D: {model.mid_structure} middle{heads}, base_channels {model.base_channels}"
    if model.pose_dim != resolved.model.pose_dim:
        title += f", {model.pose_dim} numbers a pose ({resolved.data.representation})"
    table = Table()  # the title on a line of its own: rich wraps a title to the table's width, mid-phrase
    table.add_column("block")
    table.add_column("parameters", justify="right")
    for name, count in summary.parameters_per_block.items():
        table.add_row(name, f"{count:,}")
    table.add_row("[bold]total[/bold]", f"[bold]{summary.total_parameters:,} ({summary.total_parameters / 1e6:.2f}M)")
    console = Console()
    console.print(title)
    console.print(table)
    mid = summary.mid
    console.print(f"size on disk (fp32 weights): {summary.fp32_megabytes:.1f} MiB")
    console.print(
        f"middle block input: {mid.channels} channels x {mid.length} positions ({mid.activation_floats:,} floats)"
    )
    if mid.structure == "attention":
        console.print(
            f"attention matrix per sample: {mid.length}x{mid.length} = "
            f"{mid.attention_floats_per_head:,} floats per head, {mid.attention_floats:,} for {mid.num_heads} heads"
        )
    console.print(f"middle block multiply-accumulates per sample: {mid.macs / 1e6:.1f}M")
